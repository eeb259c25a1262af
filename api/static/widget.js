/* Hibachi chat widget: embed with <script src="https://YOUR-HOST/widget.js" defer></script>.
   No framework, no build step. Talks to the API on the host that served this script. */
(function () {
  "use strict";
  if (window.__hibachiChat) return;
  window.__hibachiChat = true;

  var script = document.currentScript;
  var base = script ? new URL(script.src, location.href).origin : location.origin;
  var store = window.sessionStorage;
  var token = store.getItem("hibachi-chat-token");
  var lastId = Number(store.getItem("hibachi-chat-last") || 0);
  var source = null;

  var css = [
    ".hc-launch{position:fixed;right:16px;bottom:16px;z-index:2147483000;border:0;border-radius:28px;",
    "padding:14px 20px;background:#b3261e;color:#fff;font:600 16px system-ui,sans-serif;cursor:pointer;",
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".hc-launch:focus-visible,.hc-panel button:focus-visible,.hc-panel input:focus-visible{outline:3px solid #ffb300;outline-offset:2px}",
    ".hc-panel{position:fixed;right:16px;bottom:80px;z-index:2147483000;width:360px;max-width:calc(100vw - 32px);",
    "height:520px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;",
    "border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);font:15px/1.4 system-ui,sans-serif;color:#1d1d1d}",
    ".hc-panel[hidden]{display:none}",
    ".hc-head{display:flex;justify-content:space-between;align-items:center;padding:12px 14px;background:#b3261e;",
    "color:#fff;border-radius:12px 12px 0 0;font-weight:600}",
    ".hc-head button{background:none;border:0;color:#fff;font-size:22px;cursor:pointer;line-height:1}",
    ".hc-log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}",
    ".hc-msg{max-width:85%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word}",
    ".hc-customer{align-self:flex-end;background:#b3261e;color:#fff}",
    ".hc-msg a{color:inherit;word-break:break-all}",
    ".hc-agent,.hc-human{align-self:flex-start;background:#f1f1f1}",
    ".hc-human{background:#fff4d6;border-left:4px solid #8a5a00}",
    ".hc-from{display:block;font-size:12px;font-weight:600;color:#5c3d00;margin-bottom:2px}",
    ".hc-typing{align-self:flex-start;color:#666;font-style:italic}",
    ".hc-disclosure{margin:0;align-self:center;max-width:90%;color:#555;font-size:13px;text-align:center}",
    ".hc-options{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px}",
    ".hc-options button{border:1px solid #b3261e;background:#fff;color:#b3261e;border-radius:16px;padding:6px 12px;cursor:pointer}",
    ".hc-form{display:flex;gap:8px;padding:10px;border-top:1px solid #e5e5e5}",
    ".hc-form input{flex:1;padding:10px;border:1px solid #ccc;border-radius:8px;font:inherit}",
    ".hc-form button{padding:10px 14px;border:0;border-radius:8px;background:#b3261e;color:#fff;font:inherit;cursor:pointer}",
    "@media (max-width:480px){.hc-panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100vh;max-height:100vh;border-radius:0}}"
  ].join("");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text; // text only: nothing the server sends is parsed as HTML
    return node;
  }

  var style = el("style"); style.textContent = css; document.head.appendChild(style);
  var launch = el("button", { "class": "hc-launch", "aria-expanded": "false", "aria-controls": "hc-panel" }, "Chat with us");
  var panel = el("section", { "class": "hc-panel", id: "hc-panel", role: "dialog", "aria-label": "Chat", hidden: "" });
  var head = el("div", { "class": "hc-head" });
  head.appendChild(el("span", {}, "Chat with us"));
  var close = el("button", { "aria-label": "Close chat" }, "\u00d7");
  head.appendChild(close);
  var log = el("div", { "class": "hc-log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  var options = el("div", { "class": "hc-options", role: "group", "aria-label": "Quick replies" });
  var form = el("form", { "class": "hc-form" });
  var input = el("input", { type: "text", "aria-label": "Your message", placeholder: "Type a message\u2026", maxlength: "2000", autocomplete: "off" });
  var submit = el("button", { type: "submit" }, "Send");
  form.appendChild(input); form.appendChild(submit);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(options); panel.appendChild(form);
  document.body.appendChild(launch); document.body.appendChild(panel);

  // Web addresses in a message become links (a booking link has to be clickable); the rest
  // stays text nodes, so nothing the server sends is parsed as HTML.
  var url = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)]/g;
  function bubble(who, text) {
    var node = el("div", { "class": "hc-msg hc-" + who });
    // A person's message says so: the customer knows when a human is writing.
    if (who === "human") node.appendChild(el("span", { "class": "hc-from" }, "From our team"));
    var at = 0;
    (text.match(url) || []).forEach(function (href) {
      var start = text.indexOf(href, at);
      node.appendChild(document.createTextNode(text.slice(at, start)));
      node.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, href));
      at = start + href.length;
    });
    node.appendChild(document.createTextNode(text.slice(at)));
    return node;
  }

  var seen = {};
  function show(who, text, id) {
    if (id && seen[id]) return;
    if (id) { seen[id] = true; lastId = Math.max(lastId, id); store.setItem("hibachi-chat-last", String(lastId)); }
    log.appendChild(bubble(who, text));
    log.scrollTop = log.scrollHeight;
  }

  function quick(choices) {
    options.textContent = "";
    (choices || []).forEach(function (choice) {
      var b = el("button", { type: "button" }, choice);
      b.addEventListener("click", function () { send(choice); });
      options.appendChild(b);
    });
  }

  function api(path, body) {
    return fetch(base + path, {
      method: body ? "POST" : "GET",
      headers: Object.assign({ "Content-Type": "application/json" }, token ? { "X-Chat-Token": token } : {}),
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (data) { if (!r.ok) throw data; return data; });
    });
  }

  function ensureSession() {
    if (token) return Promise.resolve(token);
    return api("/api/v1/chat/sessions", {}).then(function (d) {
      token = d.token; store.setItem("hibachi-chat-token", token); return token;
    });
  }

  function listen() {
    if (source || !window.EventSource) return;
    source = new EventSource(base + "/api/v1/chat/stream?token=" + encodeURIComponent(token) + "&after=" + lastId);
    source.addEventListener("message", function (e) {
      var m = JSON.parse(e.data); show(m.who, m.text, m.id);
    });
  }

  function showReplies(d) {
    (d.replies && d.replies.length ? d.replies : (d.reply ? [{ id: d.id, text: d.reply }] : []))
      .forEach(function (r) { show("agent", r.text, r.id); });
  }

  // The whole thread as stored, both sides, in order (after verifying: the customer's own).
  function reload() {
    return api("/api/v1/chat/messages?after=0").then(function (lines) {
      log.textContent = ""; seen = {};
      lines.forEach(function (m) { show(m.who, m.text, m.id); });
      if (source) { source.close(); source = null; }
    });
  }

  function send(text) {
    text = (text || "").trim();
    if (!text) return;
    show("customer", text);
    quick([]);
    input.value = "";
    var typing = el("div", { "class": "hc-typing", "aria-label": "Agent is typing" }, "typing\u2026");
    log.appendChild(typing);
    ensureSession().then(function () {
      return api("/api/v1/chat/messages", { text: text });
    }).then(function (d) {
      typing.remove();
      if (d.verified) return reload().then(function () { quick(d.options); listen(); });
      showReplies(d);
      quick(d.options);
      listen();
    }).catch(function (err) {
      typing.remove();
      show("agent", (err && err.error && err.error.message) || "Sorry, something went wrong. Please try again.");
    });
  }

  // The greeting, the automated-assistant line and suggested questions (the business's
  // knowledge), shown when a chat opens empty; they are not messages of the thread.
  var welcomed = false;
  function welcome() {
    if (welcomed || log.childElementCount) return;
    welcomed = true;
    fetch(base + "/api/v1/chat/settings").then(function (r) { return r.json(); }).then(function (c) {
      if (log.querySelector(".hc-msg")) return;
      log.appendChild(el("div", { "class": "hc-msg hc-agent hc-greeting" }, c.greeting));
      log.appendChild(el("p", { "class": "hc-disclosure" }, c.disclosure));
      quick(c.suggestions);
    }).catch(function () {});
  }

  function toggle(open) {
    panel.hidden = !open;
    launch.setAttribute("aria-expanded", String(open));
    if (open) { input.focus(); if (token) listen(); welcome(); } else { launch.focus(); }
  }
  launch.addEventListener("click", function () { toggle(panel.hidden); });
  close.addEventListener("click", function () { toggle(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
  form.addEventListener("submit", function (e) { e.preventDefault(); send(input.value); });
  if (token) {
    api("/api/v1/chat/messages?after=0").then(function (lines) {
      lines.forEach(function (m) { show(m.who, m.text, m.id); });
    }).catch(function () { token = null; store.removeItem("hibachi-chat-token"); });
  }
})();
