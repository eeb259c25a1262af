// The agent console: escalation queue (live), thread with takeover, knowledge editing, stats.
// Every text from the server goes into the page as text (never as HTML).
"use strict";

const PRIORITIES = ["URGENT", "HIGH", "MEDIUM", "LOW"];
const app = () => document.getElementById("app");
let me = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(...nodes) {
  app().replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `request failed (${status})`);
    this.status = status;
    this.fields = (body && body.error && body.error.fields) || [];
  }
}

// The session is an httpOnly cookie the page never sees; every change carries the session's
// CSRF token (from sign-in or /api/v1/me) in a header a page on another site cannot set.
async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: {
      ...(method === "GET" || !me ? {} : { "X-CSRF-Token": me.csrf || "" }),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    if (response.status === 401) me = null;
    throw new ApiError(response.status, data);
  }
  return data;
}

// Every time is shown in the business's time zone (from /api/v1/me), to the minute: the owner
// on a trip sees a 5 PM party as 5 PM.
const formats = new Map();
function format(options) {
  const zone = (me && me.timezone) || undefined;
  const key = `${zone}|${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat("en-US", { timeZone: zone, ...options }));
  return formats.get(key);
}

function when(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const sameYear = format({ year: "numeric" }).format(at) === format({ year: "numeric" }).format(new Date());
  return format({ weekday: "short", month: "short", day: "numeric", year: sameYear ? undefined : "numeric", hour: "numeric", minute: "2-digit" }).format(at);
}

function wallClock(at) {
  // "YYYY-MM-DDTHH:MM" on the business's clock (a datetime-local input's value).
  const parts = {};
  for (const p of format({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(at)) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

function fromWallClock(value) {
  // The moment a "YYYY-MM-DDTHH:MM" on the business's clock names (daylight saving included).
  const naive = (text) => {
    const [day, time] = text.split("T");
    const [y, m, d] = day.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    return Date.UTC(y, m - 1, d, h, mi);
  };
  const wanted = naive(value);
  let at = wanted;
  for (let i = 0; i < 3; i++) at += wanted - naive(wallClock(new Date(at)));
  return new Date(at);
}

function zoneName() {
  const part = format({ timeZoneName: "shortGeneric" }).formatToParts(new Date()).find((p) => p.type === "timeZoneName");
  return part ? part.value : (me && me.timezone) || "";
}

// The journey's touchpoints by the names the business uses for them.
const TOUCHPOINTS = {
  confirmation: "Booking confirmation",
  "7_day": "Menu request (7 days before)",
  "4_day": "Menu reminder (4 days before)",
  menu_deadline: "Menu deadline (no menu: a person follows up)",
  "24_hour": "Day-before confirmation",
  on_the_way: "Chef on the way",
  arriving: "Chef arriving",
  post_event: "Rating request (day after)",
};
const touchpointName = (kind) => TOUCHPOINTS[kind] || kind.replace(/_/g, " ");

function pageTitle(...parts) {
  document.title = [...parts.filter(Boolean), "Console"].join(" · ");
}

function phoneLink(phone) {
  return phone ? el("a", { href: `tel:${phone}` }, phone) : null;
}

function timeLeft(seconds) {
  const late = seconds < 0;
  let s = Math.abs(seconds);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60);
  const text = d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m`;
  return late ? `${text} overdue` : `${text} left`;
}

function percent(value) {
  return value === null || value === undefined ? "n/a" : `${(value * 100).toFixed(1)}%`;
}

// ---- sign in --------------------------------------------------------------------------------

function labelled(id, label, input, hint) {
  return el("div", { class: "field" }, el("label", { for: id }, label), input, hint ? el("p", { class: "formula", id: `${id}-hint` }, hint) : null);
}

async function signIn() {
  const error = el("p", { class: "error", role: "alert" });
  const name = el("input", { id: "name", name: "username", autocomplete: "username", required: true, maxlength: 100 });
  const password = el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: 256 });
  const button = el("button", { class: "primary", type: "submit" }, "Sign in");
  const form = el(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = "";
        button.disabled = true;
        try {
          me = await api("POST", "/api/v1/session", { name: name.value, password: password.value });
          route();
        } catch (e) {
          password.value = "";
          error.textContent = e.message;
          password.focus();
        } finally {
          button.disabled = false;
        }
      },
    },
    labelled("name", "Name", name),
    labelled("password", "Password", password),
    button,
    error,
  );
  pageTitle("Sign in");
  document.getElementById("who").replaceChildren();
  show(el("h1", {}, "Sign in"), form, el("p", { class: "formula" }, "Forgot your password? An admin can send you a new set-up link."));
  name.focus();
}

async function signOut() {
  try { await api("DELETE", "/api/v1/session"); } catch (_) { /* signed out either way */ }
  me = null;
  history.pushState(null, "", "/console");
  signIn();
}

// A set-up link (/console/setup#token) lets a new teammate, or one whose access was reset,
// choose a password; the token stays in the fragment, so it never reaches a server log.
async function setupPage() {
  const token = location.hash.slice(1);
  const error = el("p", { class: "error", role: "alert" });
  const password = el("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true, minlength: 10, maxlength: 256, "aria-describedby": "new-password-hint" });
  const again = el("input", { id: "again", type: "password", autocomplete: "new-password", required: true, maxlength: 256 });
  const form = el(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = "";
        if (password.value !== again.value) { error.textContent = "The two passwords differ."; return; }
        try {
          me = await api("POST", "/api/v1/setup", { token, password: password.value });
          history.replaceState(null, "", "/console");
          route();
        } catch (e) {
          error.textContent = e.message;
        }
      },
    },
    labelled("new-password", "New password", password, "At least 10 characters; a few unrelated words make a good one."),
    labelled("again", "The same password again", again),
    el("button", { class: "primary", type: "submit" }, "Set password and sign in"),
    error,
  );
  pageTitle("Choose a password");
  show(el("h1", {}, "Choose a password"), token ? form : el("p", { class: "error", role: "alert" }, "This link has no set-up code: open the whole link you were sent."));
}

// ---- inbox and customers --------------------------------------------------------------------

const CHANNELS = { sms: "SMS", whatsapp: "WhatsApp", web: "Web chat", email: "Email" };

async function inboxPage() {
  pageTitle("Inbox");
  const params = new URLSearchParams(location.search);
  const search = el("input", { id: "search", type: "search", value: params.get("q") || "", maxlength: 200, placeholder: "Name, phone, email or MH-…" });
  const channel = el("select", { id: "channel" }, el("option", { value: "" }, "All channels"), Object.entries(CHANNELS).map(([k, v]) => el("option", { value: k, selected: params.get("channel") === k }, v)));
  const check = (id, label) => el("label", { class: "check" }, el("input", { type: "checkbox", id, checked: params.get(id) === "true" }), ` ${label}`);
  const form = el(
    "form",
    {
      role: "search",
      class: "filters",
      onsubmit: (event) => {
        event.preventDefault();
        const next = new URLSearchParams();
        if (search.value.trim()) next.set("q", search.value.trim());
        if (channel.value) next.set("channel", channel.value);
        for (const id of ["open_case", "waiting"]) if (document.getElementById(id).checked) next.set(id, "true");
        history.pushState(null, "", `/console/inbox${next.toString() ? `?${next}` : ""}`);
        route();
      },
    },
    el("label", { for: "search" }, "Search"), search,
    el("label", { for: "channel", class: "visually-hidden" }, "Channel"), channel,
    check("open_case", "Has an open case"), check("waiting", "Waiting for us"),
    el("button", { type: "submit", class: "primary" }, "Show"),
  );
  const rows = await api("GET", `/api/v1/inbox?${params}`);
  const list = rows.length
    ? el(
        "table",
        { class: "cases inbox" },
        el("thead", {}, el("tr", {}, ["Customer", "Channel", "Last message", "When", "Cases", "Answered by"].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          rows.map((r) =>
            el(
              "tr",
              { "data-conversation": r.conversation_id, class: r.waiting ? "waiting" : "" },
              el("td", { "data-label": "Customer" }, el("a", { href: `/console/customers/${r.customer_id}#conversation-${r.conversation_id}` }, r.customer_name || r.customer_phone || r.customer_email || `Customer ${r.customer_id}`)),
              el("td", { "data-label": "Channel" }, CHANNELS[r.channel] || r.channel),
              el("td", { "data-label": "Last message" }, r.waiting ? el("strong", {}, "Waiting: ") : null, (r.last_body || "—").slice(0, 140)),
              el("td", { "data-label": "When" }, when(r.last_at)),
              el("td", { "data-label": "Cases" }, r.open_cases ? `${r.open_cases} open` : "—"),
              el("td", { "data-label": "Answered by" }, r.owner === "human" ? r.owner_name || "a person" : "the agent"),
            ),
          ),
        ),
      )
    : el("p", {}, params.toString() ? "No conversation matches." : "No conversations yet.");
  show(el("h1", {}, "Inbox"), form, list);
}

async function customerPage(id) {
  let page;
  try {
    page = await api("GET", `/api/v1/customers/${id}`);
  } catch (e) {
    if (e.status !== 404) throw e;
    pageTitle("Customer not found");
    show(el("p", {}, el("a", { href: "/console/inbox" }, "← Inbox")), el("h1", {}, "Customer not found"), el("p", { class: "error", role: "alert" }, `There is no customer #${id}.`));
    return;
  }
  const c = page.customer;
  pageTitle(c.name || c.phone || `Customer ${c.id}`);
  const threads = await Promise.all(page.conversations.map((t) => api("GET", `/api/v1/conversations/${t.id}/messages?limit=200`).then((messages) => ({ ...t, messages }))));
  const status = el("p", { role: "status" });
  const threadCard = (t) => {
    const box = el("textarea", { id: `reply-${t.id}`, maxlength: 1600 });
    const mine = t.owner === "human" && t.owner_user_id === me.id;
    return el(
      "section",
      { class: "card", id: `conversation-${t.id}`, "aria-label": `${CHANNELS[t.channel] || t.channel} conversation` },
      el("h2", {}, `${CHANNELS[t.channel] || t.channel} · answered by ${t.owner === "human" ? (mine ? "you" : "a person") : "the agent"}`),
      el("div", { class: "messages" }, t.messages.map(messageView)),
      el("div", { class: "field" }, el("label", { for: `reply-${t.id}` }, "Reply (takes the thread over: the agent stays silent until you hand it back)"), box),
      el("button", { type: "button", onclick: async () => {
        try { await api("POST", `/api/v1/conversations/${t.id}/reply`, { text: box.value }); await customerPage(id); } catch (e) { status.className = "error"; status.textContent = e.message; }
      } }, "Send reply"),
      " ",
      t.owner === "human" ? el("button", { type: "button", onclick: async () => {
        try { await api("POST", `/api/v1/conversations/${t.id}/hand-back`); await customerPage(id); } catch (e) { status.className = "error"; status.textContent = e.message; }
      } }, "Hand back to the agent") : null,
    );
  };
  const guests = (b) => [`${b.adults} adults`, b.kids ? `${b.kids} kids` : "", b.toddlers ? `${b.toddlers} little ones` : ""].filter(Boolean).join(", ");
  const now = Date.now();
  const bookingRow = (b) => el(
    "tr",
    { "data-booking": b.reference },
    el("td", { "data-label": "Booking" }, b.reference),
    el("td", { "data-label": "Party" }, when(b.event_at), new Date(b.event_at).getTime() > now ? " (upcoming)" : ""),
    el("td", { "data-label": "Guests" }, guests(b)),
    el("td", { "data-label": "Status" }, b.status),
    el("td", { "data-label": "Rating" }, b.ratings.length ? b.ratings.map((r) => `${"★".repeat(r.rating)}${r.feedback_text ? ` “${r.feedback_text}”` : ""}`).join("; ") : "—"),
  );
  show(
    el("p", {}, el("a", { href: "/console/inbox" }, "← Inbox")),
    el("h1", {}, c.name || "Customer without a name"),
    el("p", {}, phoneLink(c.phone), c.phone && c.email ? " · " : "", c.email ? el("a", { href: `mailto:${c.email}` }, c.email) : "", ` · customer since ${when(c.created_at)}`, c.is_promoter ? " · promoter" : ""),
    status,
    el(
      "section",
      { class: "card", "aria-label": "Bookings" },
      el("h2", {}, "Bookings"),
      page.bookings.length
        ? el("table", { class: "cases" }, el("thead", {}, el("tr", {}, ["Booking", "Party", "Guests", "Status", "Rating"].map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, page.bookings.map(bookingRow)))
        : el("p", {}, "No bookings."),
    ),
    el(
      "section",
      { class: "card", "aria-label": "Channels" },
      el("h2", {}, "Channels"),
      page.addresses.length
        ? el("ul", {}, page.addresses.map((a) => el("li", { "data-address": a.address }, `${CHANNELS[a.channel] || a.channel}: ${a.address}`, a.opted_out ? " · opted out (nothing is sent here)" : "", a.undeliverable ? " · undeliverable" : "", a.verified ? " · verified" : "")))
        : el("p", {}, "No channel on record."),
    ),
    page.cases.length
      ? el("section", { class: "card", "aria-label": "Cases" }, el("h2", {}, "Cases"), el("ul", {}, page.cases.map((e) => el("li", {}, el("a", { href: `/console/escalations/${e.id}` }, `${e.priority}: ${e.reason}`), ` · ${e.status.replace(/_/g, " ")} · ${when(e.created_at)}`))))
      : null,
    threads.map(threadCard),
  );
  if (location.hash) { const target = document.getElementById(location.hash.slice(1)); if (target) target.scrollIntoView(); }
}

// ---- people (admins) ------------------------------------------------------------------------

function userState(u) {
  if (!u.active) return "deactivated";
  if (u.locked_until) return `locked until ${when(u.locked_until)}`;
  if (!u.has_password) return u.setup_pending ? "set-up link sent" : "no password yet";
  return u.last_sign_in_at ? `last signed in ${when(u.last_sign_in_at)}` : "never signed in";
}

function showLink(host, result, what) {
  const link = el("input", { id: "setup-link", readonly: true, value: result.setup_url, class: "wide" });
  host.replaceChildren(
    el("p", { role: "status" }, `${what} Send ${result.user.name} this link; it works once and is not shown again:`),
    labelled("setup-link", "Set-up link", link),
    el("button", { type: "button", onclick: async () => { await navigator.clipboard.writeText(result.setup_url); } }, "Copy link"),
  );
  link.select();
}

async function usersPage() {
  pageTitle("People");
  if (me.role !== "admin") {
    show(el("h1", {}, "People"), el("p", {}, "Only an admin manages people."));
    return;
  }
  const people = await api("GET", "/api/v1/users");
  const notice = el("div", { class: "card", "aria-live": "polite" });
  const error = el("p", { class: "error", role: "alert" });
  const act = async (work) => {
    error.textContent = "";
    try { await work(); } catch (e) { error.textContent = e.message; }
  };
  const name = el("input", { id: "new-name", required: true, maxlength: 100, autocomplete: "off" });
  const role = el("select", { id: "new-role" }, el("option", { value: "agent" }, "agent"), el("option", { value: "admin" }, "admin"));
  const add = el(
    "form",
    {
      class: "card",
      "aria-label": "Add a teammate",
      onsubmit: (event) => {
        event.preventDefault();
        act(async () => {
          const result = await api("POST", "/api/v1/users", { name: name.value.trim(), role: role.value });
          await usersPage();
          showLink(document.getElementById("people-notice"), result, `Added ${result.user.name} (${result.user.role}).`);
        });
      },
    },
    el("h2", {}, "Add a teammate"),
    labelled("new-name", "Name", name),
    labelled("new-role", "Role", role),
    el("button", { class: "primary", type: "submit" }, "Add"),
  );
  const row = (u) => {
    const self = u.id === me.id;
    return el(
      "tr",
      { "data-user": u.name },
      el("td", { "data-label": "Name" }, u.name, self ? " (you)" : ""),
      el("td", { "data-label": "Role" }, u.role),
      el("td", { "data-label": "State" }, userState(u)),
      el(
        "td",
        { class: "actions" },
        u.active
          ? [
              el("button", { type: "button", onclick: () => act(async () => { await api("PATCH", `/api/v1/users/${u.id}`, { role: u.role === "admin" ? "agent" : "admin" }); await usersPage(); }) }, u.role === "admin" ? "Make agent" : "Make admin"),
              el("button", { type: "button", onclick: () => act(async () => { const result = await api("POST", `/api/v1/users/${u.id}/setup-link`); await usersPage(); showLink(document.getElementById("people-notice"), result, `${u.name}'s password no longer works and their sessions have ended.`); }) }, "Reset access"),
              self ? null : el("button", { type: "button", class: "danger", onclick: () => act(async () => { if (!confirm(`Deactivate ${u.name}? They are signed out at once.`)) return; await api("PATCH", `/api/v1/users/${u.id}`, { active: false }); await usersPage(); }) }, "Deactivate"),
            ]
          : el("button", { type: "button", onclick: () => act(async () => { await api("PATCH", `/api/v1/users/${u.id}`, { active: true }); await usersPage(); }) }, "Reactivate"),
      ),
    );
  };
  notice.id = "people-notice";
  show(
    el("h1", {}, "People"),
    error,
    notice,
    el(
      "table",
      { class: "cases people" },
      el("thead", {}, el("tr", {}, ["Name", "Role", "State", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, people.map(row)),
    ),
    add,
    el("button", { type: "button", onclick: () => act(async () => { if (!confirm("Sign out on every device, this one too?")) return; await api("POST", "/api/v1/me/sign-out-everywhere"); me = null; signIn(); }) }, "Sign me out everywhere"),
  );
}

// ---- queue ----------------------------------------------------------------------------------

const filters = { mine: false, unassigned: false, overdue: false, priority: "" };
let queueRows = [];
let queueStream = null;

function renderQueue() {
  const host = document.getElementById("queue");
  if (!host) return;
  const rows = queueRows.filter(
    (e) =>
      (!filters.mine || e.assigned_to_id === me.id) &&
      (!filters.unassigned || e.assigned_to_id === null) &&
      (!filters.overdue || e.overdue) &&
      (!filters.priority || e.priority === filters.priority),
  );
  const groups = PRIORITIES.map((priority) => {
    const items = rows.filter((e) => e.priority === priority);
    return el(
      "section",
      { "aria-label": `${priority} escalations`, "data-priority": priority },
      el("h2", {}, el("span", { class: `badge ${priority}` }, priority), ` ${items.length}`),
      items.length === 0
        ? el("p", { class: "formula" }, "Nothing here.")
        : el(
            "table",
            { class: "cases" },
            el("thead", {}, el("tr", {}, ["Customer", "Booking", "Reason", "Action required", "Time left", "Owner", ""].map((h) => el("th", { scope: "col" }, h)))),
            el(
              "tbody",
              {},
              items.map((e) =>
                el(
                  "tr",
                  { "data-escalation": e.id },
                  el("td", { "data-label": "Customer" }, e.customer_name || e.customer_phone || "—"),
                  el("td", { "data-label": "Booking" }, e.booking_reference ? `${e.booking_reference} · ${when(e.event_at)}` : "no booking"),
                  el("td", { "data-label": "Reason" }, e.reason),
                  el("td", { "data-label": "Action required" }, e.action_required),
                  el("td", { "data-label": "Time left", class: e.overdue ? "overdue" : "" }, timeLeft(e.seconds_left)),
                  el("td", { "data-label": "Owner" }, e.assigned_to || "unassigned"),
                  el("td", {}, el("a", { href: `/console/escalations/${e.id}` }, "Open")),
                ),
              ),
            ),
          ),
    );
  });
  host.replaceChildren(...groups);
}

async function readEvents(path, onEvent, signal) {
  // Server-sent events over fetch (the session cookie goes with it), so a stream that ends
  // can be read and retried like any request.
  const response = await fetch(path, { credentials: "same-origin", signal });
  if (!response.ok || !response.body) throw new ApiError(response.status, null);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

function toggle(name, label) {
  return el(
    "button",
    {
      type: "button",
      "aria-pressed": String(filters[name]),
      onclick: (event) => {
        filters[name] = !filters[name];
        event.target.setAttribute("aria-pressed", String(filters[name]));
        renderQueue();
      },
    },
    label,
  );
}

// Alerts addressed to the person signed in (a case assigned to them, a deadline near), until
// they mark them read.
async function forYouCard(host) {
  const alerts = await api("GET", "/api/v1/me/alerts").catch(() => []);
  if (!alerts.length) { host.replaceChildren(); return; }
  host.replaceChildren(
    el(
      "section",
      { class: "card", "aria-label": "For you" },
      el("h2", {}, `For you (${alerts.length})`),
      el(
        "ul",
        { class: "for-you" },
        alerts.map((a) =>
          el(
            "li",
            { "data-alert": a.id },
            a.escalation_id ? el("a", { href: `/console/escalations/${a.escalation_id}` }, a.subject) : a.subject,
            el("span", { class: "formula" }, ` · ${when(a.created_at)} `),
            el("button", { type: "button", onclick: async () => { await api("POST", `/api/v1/me/alerts/${a.id}/read`); forYouCard(host); } }, "Mark read"),
          ),
        ),
      ),
    ),
  );
}

async function queuePage() {
  const select = el(
    "select",
    { "aria-label": "Priority", onchange: (event) => { filters.priority = event.target.value; renderQueue(); } },
    el("option", { value: "" }, "All priorities"),
    PRIORITIES.map((p) => el("option", { value: p }, p)),
  );
  const status = el("span", { class: "formula", id: "live" }, "connecting…");
  pageTitle("Escalations");
  const forYou = el("div", { id: "for-you" });
  show(
    el("h1", {}, "Escalations"),
    forYou,
    el("div", { class: "filters" }, toggle("mine", "Mine"), toggle("unassigned", "Unassigned"), toggle("overdue", "Overdue"), select, status),
    el("div", { id: "queue" }),
  );
  forYouCard(forYou);
  queueRows = await api("GET", "/api/v1/escalations");
  renderQueue();
  const controller = new AbortController();
  queueStream = controller;
  const listen = async () => {
    while (!controller.signal.aborted) {
      try {
        status.textContent = "live";
        await readEvents("/api/v1/escalations/stream", (name, data) => {
          if (name === "queue") { queueRows = data; renderQueue(); }
        }, controller.signal);
      } catch (e) {
        if (controller.signal.aborted) return;
        status.textContent = "reconnecting…";
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  listen();
}

// ---- thread ---------------------------------------------------------------------------------

function trail(meta) {
  if (!meta || !meta.intent) return null;
  const decisions = (meta.decisions || []).map((d) =>
    el("li", {}, `${d.rule} → ${d.outcome}`, d.facts ? el("div", { class: "formula" }, JSON.stringify(d.facts)) : null),
  );
  return el(
    "details",
    { class: "trail" },
    el("summary", {}, `intent ${meta.intent} · tone ${meta.tone} · ${meta.outcome}${meta.llm ? ` · llm ${meta.llm}` : ""}`),
    el("ul", {}, decisions),
  );
}

function delivery(m) {
  if (m.direction === "outbound" && m.status === "pending" && m.attempts > 0) {
    return `retrying (${m.attempts} tries so far, next ${when(m.next_attempt_at)})`;
  }
  return m.error_code ? `${m.status} (error ${m.error_code})` : m.status;
}

// What a message was, in words: a touchpoint by its name, any other kind spelled out.
function kindName(kind) {
  if (TOUCHPOINTS[kind]) return TOUCHPOINTS[kind];
  const words = kind.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function messageView(m) {
  const who = m.direction === "inbound" ? "customer" : m.author === "human" ? "team (a person)" : "agent";
  return el(
    "div",
    { class: `msg ${m.direction} ${m.author}`, "data-author": m.author },
    m.body,
    el("div", { class: "meta" }, `${who} · ${m.channel}${m.kind ? ` · ${kindName(m.kind)}` : ""} · ${delivery(m)} · ${when(m.created_at)}`),
    m.direction === "outbound" && m.author === "agent" ? trail(m.meta) : null,
  );
}

function bookingForm(booking, reload) {
  const message = el("p", { role: "status" });
  const input = (name, label, value, type = "number") =>
    el("div", { class: "field" }, el("label", { for: `b-${name}` }, label), el("input", { id: `b-${name}`, name, type, value: value ?? "", min: type === "number" ? 0 : null }), el("span", { class: "error", "data-error": name }));
  const local = new Date(booking.event_at);
  const localValue = wallClock(local);
  const form = el(
    "form",
    {
      "aria-label": "Edit booking",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const body = {
          adults: Number(data.get("adults")),
          kids: Number(data.get("kids")),
          toddlers: Number(data.get("toddlers")),
          proteins: String(data.get("proteins")).split(",").map((s) => s.trim()).filter(Boolean),
        };
        const address = String(data.get("address")).trim();
        if (address && address !== booking.address) body.address = address;
        const at = fromWallClock(String(data.get("event_at")));
        if (at.getTime() !== local.getTime()) body.event_at = at.toISOString();
        form.querySelectorAll("[data-error]").forEach((n) => { n.textContent = ""; });
        try {
          await api("PATCH", `/api/v1/bookings/${booking.id}`, body);
          await reload("Booking saved; the journey follows the new details.");
        } catch (e) {
          message.className = "error";
          message.textContent = `Not saved: ${e.message}`;
          showFieldErrors(form, e);
        }
      },
    },
    input("adults", "Adults", booking.adults),
    input("kids", "Kids", booking.kids),
    input("toddlers", "Toddlers", booking.toddlers),
    input("event_at", `Party date and time (${zoneName()})`, localValue, "datetime-local"),
    input("proteins", "Proteins (comma-separated)", booking.proteins.join(", "), "text"),
    input("address", "Party address", booking.address, "text"),
    el("button", { type: "submit" }, "Save booking"),
    message,
  );
  return form;
}

// Why the team was told about a case, how, and whether it went: one line per alert.
const ALERT_KINDS = { unclaimed: "Still unclaimed: sent to the team again", owner: "Still unclaimed: sent to the owner", deadline: "Deadline near: its holder reminded", assigned: "Assigned" };
function alertList(alerts) {
  if (!alerts.length) return null;
  const why = (a) => (a.kind === "assigned" ? a.subject : a.kind ? ALERT_KINDS[a.kind.split(":")[0]] || a.kind : "Case opened or changed");
  const to = (a) => (a.channel === "console" ? "console" : `${a.channel} to ${a.target || "nobody set"}`);
  return el(
    "div",
    { class: "card", "aria-label": "Alerts about this case" },
    el("h2", {}, "Alerts"),
    el("ul", { class: "alerts" }, alerts.map((a) => el("li", { "data-alert-kind": a.kind || "opened" }, `${when(a.created_at)} · ${why(a)} · ${to(a)} · ${a.status}`))),
  );
}

// The team's notes on a case: for each other, never sent to the customer.
function notesCard(notes, add) {
  const box = el("textarea", { id: "note", maxlength: 4000 });
  return el(
    "section",
    { class: "card", "aria-label": "Notes for the team" },
    el("h2", {}, "Notes for the team"),
    notes.length
      ? el("ul", { class: "notes" }, notes.map((n) => el("li", { "data-note": n.id }, el("span", { class: "formula" }, `${n.author || "someone"} · ${when(n.created_at)}: `), n.body)))
      : el("p", { class: "formula" }, "No notes yet."),
    el("div", { class: "field" }, el("label", { for: "note" }, "Add a note (never sent to the customer)"), box),
    el("button", { type: "button", onclick: () => add(box.value, () => { box.value = ""; }) }, "Add note"),
  );
}

// A saved reply's {name} and {reference} become the customer's first name and the booking's
// reference; the person edits the text before sending.
function filledReply(text, thread) {
  const first = (thread.escalation.customer_name || "").split(" ")[0] || "there";
  const reference = thread.booking ? thread.booking.reference : "your booking";
  return text.replace(/\{name\}/g, first).replace(/\{reference\}/g, reference);
}

// ---- booking actions (cancel, reschedule, deposit refund, history) -------------------------
// Each action opens an inline panel that shows the policy's terms first (from the server, which
// reads the live rules) and acts only on Confirm; the booking panel then shows the new state.

const BOOKING_ACTIONS = { cancelled: "Cancelled", rescheduled: "Rescheduled", deposit_refunded: "Deposit refund recorded" };

function bookingState(b) {
  const deposit = b.deposit_refunded_at
    ? `deposit ${money(b.deposit_amount)} refunded ${when(b.deposit_refunded_at)}`
    : b.deposit_refund_due
      ? `deposit ${money(b.deposit_amount)}: refund due`
      : `deposit ${money(b.deposit_amount)}${b.deposit_paid ? " paid" : " not paid"}`;
  const moved = b.reschedule_count ? ` · moved ${b.reschedule_count} time${b.reschedule_count === 1 ? "" : "s"}` : "";
  return el("p", { "data-booking-status": b.status }, el("strong", {}, "Status: "), `${b.status} · ${deposit}${moved}`);
}

function termsList(rows) {
  return el("dl", { class: "terms" }, rows.filter(Boolean).flatMap(([term, detail]) => [el("dt", {}, term), el("dd", {}, detail)]));
}

function customerNotice(channel, message) {
  return message
    ? el("div", {}, el("p", { class: "formula" }, `The customer is told (${channel}):`), el("blockquote", { class: "notice-text" }, message))
    : el("p", { class: "formula" }, `The customer has switched ${channel} off: nothing is sent.`);
}

function actionPanel(title, body, confirmLabel, onConfirm, close) {
  const error = el("p", { class: "error", role: "alert" });
  const confirmButton = el("button", { class: "primary", type: "button" }, confirmLabel);
  confirmButton.addEventListener("click", async () => {
    error.textContent = "";
    confirmButton.disabled = true;
    try {
      await onConfirm();
    } catch (e) {
      error.textContent = e.message;
      confirmButton.disabled = false;
    }
  });
  return el(
    "section",
    { class: "panel", "aria-label": title, "data-booking-panel": "" },
    el("h3", {}, title),
    body,
    error,
    el("div", { class: "actions-row" }, confirmButton, close ? el("button", { type: "button", onclick: close }, "Close") : null),
  );
}

async function cancelPanel(b, host, close, done) {
  const t = await api("GET", `/api/v1/bookings/${b.id}/cancellation`);
  const instead = t.reschedule.free
    ? `free (their first move within ${t.reschedule.free_reschedule_hours} hours of booking)`
    : `${money(t.reschedule.fee)} rescheduling fee, deposit carried over`;
  const body = [
    termsList([
      ["Party in", `${t.time_to_event} (${when(t.event_at)})`],
      ["Refund", t.refund ? `${money(t.refund_amount)}: the deposit in full` : `none: the ${money(t.deposit_kept)} deposit is kept`],
      ["Why", t.why],
      ["Rule", `full refund at least ${t.refund_full_days} days before; a late cancellation inside ${t.late_cancel_days} days`],
      ["Fees", t.refund ? "none" : `none beyond the ${money(t.deposit_kept)} deposit kept`],
      t.reschedule_offered ? ["Instead", `a reschedule: ${instead}`] : null,
    ]),
    customerNotice(t.channel, t.message),
  ];
  host.replaceChildren(
    actionPanel(`Cancel booking ${t.reference}?`, body, "Confirm cancellation", async () => {
      await api("POST", `/api/v1/bookings/${b.id}/cancel`, { refund: t.refund });
      await done(t.refund ? "Cancelled; the deposit refund is due. The customer has been told." : "Cancelled; the deposit is kept. The customer has been told.");
    }, close),
  );
}

function reschedulePanel(b, host, close, done) {
  const input = el("input", { id: "reschedule-at", type: "datetime-local", value: wallClock(new Date(b.event_at)), required: true });
  const terms = el("div", { "aria-live": "polite" });
  const error = el("p", { class: "error", role: "alert" });
  const look = async () => {
    error.textContent = "";
    terms.replaceChildren();
    if (!input.value) { error.textContent = "Choose the new date and time."; return; }
    const at = fromWallClock(input.value).toISOString();
    let t;
    try {
      t = await api("GET", `/api/v1/bookings/${b.id}/reschedule?event_at=${encodeURIComponent(at)}`);
    } catch (e) {
      error.textContent = e.message.replace(/^event_at: /, "");
      return;
    }
    const body = [
      termsList([
        ["From", when(t.event_at)],
        ["To", when(t.new_event_at)],
        ["Fee", t.terms.free ? "none: this move is free" : money(t.terms.fee)],
        ["Why", t.why],
        ["Rule", `the first move within ${t.terms.free_reschedule_hours} hours of booking is free; otherwise ${money(t.terms.reschedule_fee)}`],
      ]),
      customerNotice(t.channel, t.message),
    ];
    terms.replaceChildren(
      actionPanel(`Move booking ${t.reference}?`, body, "Confirm new date", async () => {
        await api("POST", `/api/v1/bookings/${b.id}/reschedule`, { event_at: t.new_event_at, fee: t.terms.fee });
        await done("Rescheduled; the touchpoints follow the new date. The customer has been told.");
      }, null),
    );
  };
  host.replaceChildren(
    el(
      "section",
      { class: "panel", "aria-label": "Reschedule", "data-booking-panel": "" },
      el("h3", {}, `Reschedule booking ${b.reference}`),
      el("form", { onsubmit: (event) => { event.preventDefault(); look(); } },
        labelled("reschedule-at", `New date and time (${zoneName()})`, input),
        el("div", { class: "actions-row" }, el("button", { type: "submit" }, "Show terms"), el("button", { type: "button", onclick: close }, "Close")),
      ),
      error,
      terms,
    ),
  );
  input.focus();
}

function refundPanel(b, host, close, done) {
  const body = [
    termsList([
      ["Refund", `${money(b.deposit_amount)}: the deposit in full`],
      ["Why", "The booking was cancelled inside the refund window, so the policy gave the deposit back."],
    ]),
    el("p", { class: "formula" }, "Confirm once the money has gone back to the customer; they are told it is refunded."),
  ];
  host.replaceChildren(
    actionPanel(`Record the refund for ${b.reference}?`, body, "Confirm refund made", async () => {
      await api("POST", `/api/v1/bookings/${b.id}/deposit-refunded`);
      await done("Deposit refund recorded. The customer has been told.");
    }, close),
  );
}

function historyLine(h) {
  const d = h.details || {};
  const who = h.user_name || (d.via ? `the agent, on ${d.via}` : "the agent");
  let what = BOOKING_ACTIONS[h.action] || h.action;
  if (h.action === "cancelled") what += d.refund ? `: deposit refund due (${money(d.refund_amount || d.deposit_amount)})` : ": deposit kept";
  if (h.action === "rescheduled") what += `: ${when(d.from)} → ${when(d.to)}, ${d.free ? "free" : `fee ${money(d.fee)}`}`;
  if (h.action === "deposit_refunded") what += `: ${money(d.amount)}`;
  const told = "message_id" in d ? (d.message_id ? " · customer told" : " · customer not told (channel off)") : "";
  return el("li", { "data-history": h.action }, `${when(h.at)} · ${who} · ${what}${told}`);
}

function bookingActions(b, reload) {
  const host = el("div", {});
  const list = el("ul", { class: "history", "aria-label": "Booking history" });
  const buttons = [];
  const close = () => {
    host.replaceChildren();
    buttons.forEach((button) => button.setAttribute("aria-expanded", "false"));
  };
  const done = async (note) => { host.replaceChildren(); await reload(note); };
  const opener = (label, open) => {
    const button = el("button", { type: "button", "aria-expanded": "false" }, label);
    button.addEventListener("click", async () => {
      close();
      button.setAttribute("aria-expanded", "true");
      try {
        await open(b, host, close, done);
      } catch (e) {
        host.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
      }
    });
    buttons.push(button);
    return button;
  };
  const upcoming = b.status !== "cancelled" && b.status !== "completed" && new Date(b.event_at) > new Date();
  const owed = b.deposit_refund_due && !b.deposit_refunded_at;
  api("GET", `/api/v1/bookings/${b.id}/history`)
    .then((entries) => list.replaceChildren(...(entries.length ? entries.map(historyLine) : [el("li", {}, "Nothing yet: cancellations, new dates and refunds are listed here.")])))
    .catch((e) => list.replaceChildren(el("li", { class: "error" }, e.message)));
  return el(
    "div",
    { class: "booking-actions" },
    bookingState(b),
    upcoming || owed
      ? el("div", { class: "actions-row" }, upcoming ? [opener("Cancel booking…", cancelPanel), opener("Reschedule…", reschedulePanel)] : null, owed ? opener("Mark deposit refunded", refundPanel) : null)
      : null,
    host,
    el("h2", {}, "History"),
    list,
  );
}

async function threadPage(id) {
  let thread;
  const status = el("p", { role: "status" });
  const [teammates, savedReplies] = await Promise.all([
    api("GET", "/api/v1/teammates").catch(() => []),
    api("GET", "/api/v1/saved-replies").catch(() => []),
  ]);
  const reload = async (note) => {
    try {
      thread = await api("GET", `/api/v1/escalations/${id}/thread`);
      render();
      if (note) {
        status.className = "ok";
        status.textContent = note;
      }
    } catch (e) {
      if (!thread) {
        // Nothing to show but why: never a page stuck on "Loading…".
        const missing = e.status === 404;
        pageTitle(missing ? "Case not found" : "Case unavailable");
        show(
          el("p", {}, el("a", { href: "/console" }, "← Queue")),
          el("h1", {}, missing ? "Case not found" : "This case could not be loaded"),
          el("p", { class: "error", role: "alert" }, missing ? `There is no case #${id}. It may have been typed wrong, or the link is from another system.` : e.message),
        );
        return;
      }
      status.className = "error";
      status.textContent = e.message;
    }
  };
  const act = async (path, body, done) => {
    status.className = "";
    status.textContent = "";
    try {
      await api("POST", `/api/v1/escalations/${id}/${path}`, body);
      if (done) done();
      await reload();
      status.className = "ok";
      status.textContent = { claim: "You own this thread; the agent stays silent.", reply: "Sent.", resolve: "Resolved; the agent answers this thread again.", release: "Released to the queue.", assign: "Assigned; they have been alerted.", notes: "Note added." }[path];
    } catch (e) {
      status.className = "error";
      status.textContent = e.message;
    }
  };
  const render = () => {
    const e = thread.escalation;
    const open = e.status === "open" || e.status === "in_progress";
    const mine = e.assigned_to_id === me.id;
    const replyBox = el("textarea", { id: "reply", "aria-label": "Reply to the customer", maxlength: 1600 });
    const notes = el("textarea", { id: "notes", "aria-label": "Resolution notes" });
    const saved = el(
      "select",
      { id: "saved-reply", onchange: () => { const r = savedReplies.find((x) => String(x.id) === saved.value); if (r) { replyBox.value = filledReply(r.body, thread); replyBox.focus(); } saved.value = ""; } },
      el("option", { value: "" }, "Insert a saved reply…"),
      savedReplies.map((r) => el("option", { value: r.id }, r.title)),
    );
    const assignee = el(
      "select",
      { id: "assignee" },
      teammates.map((t) => el("option", { value: t.id, selected: t.id === (e.assigned_to_id || me.id) }, t.id === me.id ? `${t.name} (you)` : t.name)),
    );
    const b = thread.booking;
    pageTitle(`${e.priority}: ${e.reason}`, e.customer_name);
    show(
      el("p", {}, el("a", { href: "/console" }, "← Queue")),
      el("h1", {}, el("span", { class: `badge ${e.priority}` }, e.priority), ` ${e.reason}`),
      el(
        "p",
        {},
        el("a", { href: `/console/customers/${e.customer_id}` }, e.customer_name || "Customer"),
        " ",
        phoneLink(e.customer_phone),
        ` · ${e.status.replace(/_/g, " ")} · `,
        el("span", { class: e.overdue ? "overdue" : "" }, timeLeft(e.seconds_left)),
        ` · owner: ${e.assigned_to || "unassigned"} · thread answered by ${thread.owner === "human" ? thread.owner_name : "the agent"}`,
      ),
      el("p", {}, el("strong", {}, "Action required: "), e.action_required),
      e.customer_request ? el("p", {}, el("strong", {}, "Customer said: "), e.customer_request) : null,
      status,
      el(
        "div",
        { class: "grid" },
        el(
          "div",
          {},
          el("div", { class: "card messages", "aria-label": "Conversation" }, thread.messages.map(messageView)),
          open
            ? el(
                "div",
                { class: "card" },
                mine ? null : el("button", { class: "primary", type: "button", onclick: () => act("claim") }, "Claim and take over"),
                el(
                  "div",
                  { class: "field inline" },
                  el("label", { for: "assignee" }, "Assign to"),
                  assignee,
                  el("button", { type: "button", onclick: () => act("assign", { user_id: Number(assignee.value) }) }, "Assign"),
                ),
                savedReplies.length ? el("div", { class: "field" }, el("label", { for: "saved-reply" }, "Saved replies"), saved) : null,
                el("div", { class: "field" }, el("label", { for: "reply" }, "Reply (sent on the customer's channel, signed with your name)"), replyBox),
                el("button", { type: "button", onclick: () => act("reply", { text: replyBox.value }, () => { replyBox.value = ""; }) }, "Send reply"),
                el("div", { class: "field" }, el("label", { for: "notes" }, "Resolution notes"), notes),
                el("button", { type: "button", onclick: () => act("resolve", { notes: notes.value }) }, "Resolve"),
                " ",
                mine ? el("button", { type: "button", onclick: () => act("release") }, "Release") : null,
              )
            : el("p", { class: "card" }, `Resolved ${when(e.resolved_at)}: ${e.resolution_notes || ""}`),
          notesCard(thread.notes || [], (text, done) => act("notes", { text }, done)),
          alertList(thread.alerts || []),
        ),
        el(
          "div",
          {},
          b
            ? el(
                "div",
                { class: "card" },
                el("h2", {}, `Booking ${b.reference}`),
                el("p", {}, `${when(b.event_at)} · ${b.address}`),
                bookingActions(b, reload),
                b.status === "cancelled" ? null : bookingForm(b, reload),
                el("h2", {}, "Touchpoints"),
                el("table", {}, el("tbody", {}, [...b.touchpoints].sort((x, y) => new Date(x.due_at) - new Date(y.due_at)).map((t) => el("tr", { "data-touchpoint": t.kind }, el("td", {}, touchpointName(t.kind)), el("td", {}, when(t.due_at)), el("td", {}, t.status))))),
              )
            : el("p", { class: "card" }, "No booking."),
        ),
      ),
    );
  };
  await reload();
  setInterval(async () => {
    if (document.activeElement && ["TEXTAREA", "INPUT"].includes(document.activeElement.tagName)) return;
    if (document.querySelector("[data-booking-panel]")) return; // a booking action is being decided
    const before = thread && thread.messages.length;
    try {
      const fresh = await api("GET", `/api/v1/escalations/${id}/thread`);
      if (fresh.messages.length !== before || fresh.escalation.status !== thread.escalation.status) {
        thread = fresh;
        render();
      }
    } catch (_) { /* the next poll tries again */ }
  }, 3000);
}

// ---- knowledge ------------------------------------------------------------------------------

function showFieldErrors(form, error) {
  // Each reason goes next to its field: by the field the API named, or by the "field: …"
  // prefix of a message about the whole form.
  const place = (name, text) => {
    const slot = name && form.querySelector(`[data-error="${CSS.escape(name)}"]`);
    if (slot) slot.textContent = text;
    return Boolean(slot);
  };
  const reasons = error.fields.length ? error.fields : [{ field: "", message: error.message }];
  for (const f of reasons) {
    const prefix = (f.message.match(/^(\w+):\s*(.*)$/) || []);
    if (!place(f.field, f.message) && prefix.length) place(prefix[1], prefix[2]);
  }
}

function saver(form, method, path, body, after) {
  const note = form.querySelector("[role=status]");
  return async (event) => {
    event.preventDefault();
    form.querySelectorAll("[data-error]").forEach((n) => { n.textContent = ""; });
    try {
      await api(method, path, body());
      note.className = "ok";
      note.textContent = "Saved. The agent uses this on the next message.";
      if (after) after();
    } catch (e) {
      note.className = "error";
      note.textContent = `Not saved: ${e.message}`;
      showFieldErrors(form, e);
    }
  };
}

function field(label, control, name) {
  return el("div", { class: "field" }, el("label", {}, label, control), el("span", { class: "error", "data-error": name }));
}

async function knowledgePage() {
  pageTitle("Knowledge");
  const [rules, addons, faqs, offers, replies] = await Promise.all([
    api("GET", "/api/v1/business-rules"),
    api("GET", "/api/v1/menu/addons"),
    api("GET", "/api/v1/faqs"),
    api("GET", "/api/v1/offers"),
    api("GET", "/api/v1/saved-replies"),
  ]);
  const readOnly = me.role !== "admin" ? el("p", { class: "formula" }, "You can read the knowledge here; only an admin can change it.") : null;

  // Deleting from the knowledge: asked once, then the page is drawn again at that section.
  const deleter = (what, path, section) => el("button", { type: "button", class: "danger", onclick: async (event) => {
    if (!confirm(`Delete ${what}? The agent stops using it at once.`)) return;
    const note = event.target.closest("form").querySelector("[role=status]");
    try { await api("DELETE", path); await knowledgePage(); location.hash = section; } catch (e) { note.className = "error"; note.textContent = `Not deleted: ${e.message}`; }
  } }, "Delete");
  const addonRows = addons.map((a) => {
    const price = el("input", { type: "number", step: "0.01", value: a.price, "aria-label": `${a.name} price` });
    const available = el("input", { type: "checkbox", checked: a.is_available, "aria-label": `${a.name} available` });
    const form = el("form", { "data-addon": a.slug }, el("strong", {}, a.name), ` (${a.unit.replace("_", " ")}) `, field("Price $", price, "price"), field("Available ", available, "is_available"), el("button", { type: "submit" }, "Save"), " ", deleter(`the add-on “${a.name}”`, `/api/v1/menu/addons/${a.id}`, "addons"), el("span", { role: "status" }));
    form.addEventListener("submit", saver(form, "PUT", `/api/v1/menu/addons/${a.id}`, () => ({ price: price.value, is_available: available.checked })));
    return el("div", { class: "card" }, form);
  });
  const newAddon = (() => {
    const name = el("input", { "aria-label": "New add-on name", maxlength: 100 });
    const price = el("input", { type: "number", step: "0.01", min: 0, "aria-label": "New add-on price" });
    const unit = el("select", { "aria-label": "New add-on unit" }, el("option", { value: "per_person" }, "per person"), el("option", { value: "per_order" }, "per order"));
    const category = el("select", { "aria-label": "New add-on kind" }, el("option", { value: "premium_protein" }, "premium protein"), el("option", { value: "enhancement" }, "enhancement"), el("option", { value: "extra" }, "extra"));
    const aliases = el("input", { class: "wide", "aria-label": "Other words customers use for it" });
    const slug = () => name.value.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
    const form = el("form", { "data-addon": "new" }, el("strong", {}, "Add an add-on"), field("Name ", name, "name"), field("Price $", price, "price"), field("Unit ", unit, "unit"), field("Kind ", category, "category"), field("Other words customers use (comma-separated) ", aliases, "aliases"), el("span", { class: "error", "data-error": "slug" }), el("button", { type: "submit" }, "Add add-on"), el("span", { role: "status" }));
    form.addEventListener("submit", saver(form, "POST", "/api/v1/menu/addons", () => ({ slug: slug(), name: name.value, price: price.value, unit: unit.value, category: category.value, aliases: aliases.value.split(",").map((v) => v.trim()).filter(Boolean) }), async () => { await knowledgePage(); location.hash = "addons"; }));
    return el("div", { class: "card" }, form);
  })();

  // A rule's values are edited as fields (numbers as numbers, lists as comma-separated text);
  // its text names them as {{ placeholders }}, so customers always read the live values.
  const valueField = (r, key, value) => {
    const id = `rule-${r.id}-${key}`;
    const label = key.replace(/_/g, " ");
    let control, read;
    if (typeof value === "number") {
      control = el("input", { id, type: "number", step: "any", value, name: key });
      read = () => Number(control.value);
    } else if (typeof value === "boolean") {
      control = el("input", { id, type: "checkbox", checked: value, name: key });
      read = () => control.checked;
    } else if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
      control = el("input", { id, value: value.join(", "), name: key, class: "wide" });
      read = () => control.value.split(",").map((v) => v.trim()).filter(Boolean);
    } else if (typeof value === "string") {
      control = el("input", { id, value, name: key, class: "wide" });
      read = () => control.value;
    } else {
      control = el("textarea", { id, rows: 3, name: key }, JSON.stringify(value, null, 2));
      read = () => JSON.parse(control.value);
    }
    return { key, read, node: el("div", { class: "field" }, el("label", { for: id }, label), control, el("span", { class: "error", "data-error": `value.${key}` })) };
  };
  const unsaved = new Map();
  const ruleCards = rules.map((r) => {
    const content = el("textarea", { id: `rule-${r.id}-text`, rows: 3 }, r.content);
    const fields = Object.entries(r.value).map(([key, value]) => valueField(r, key, value));
    const history = el("div", {});
    const form = el(
      "form",
      { "data-rule": r.rule_type },
      el("h3", {}, r.title),
      el("p", { class: "formula" }, `version ${r.version} · ${r.updated_by || "seed"} · ${when(r.last_updated)}`),
      r.text ? el("p", { class: "customer-text" }, el("strong", {}, "Customers read: "), r.text) : null,
      fields.map((f) => f.node),
      el("div", { class: "field" }, el("label", { for: `rule-${r.id}-text` }, "Text (write a value as {{ adult_price }}, {{ deposit_amount }}, … so it follows the fields)"), content, el("span", { class: "error", "data-error": "content" })),
      el("button", { type: "submit" }, "Save"),
      " ",
      el("button", { type: "button", onclick: async () => {
        const versions = await api("GET", `/api/v1/business-rules/${r.id}/versions`);
        history.replaceChildren(el("table", {}, el("tbody", {}, versions.map((v) => el("tr", {}, el("td", {}, `v${v.version}`), el("td", {}, v.updated_by || "seed"), el("td", {}, when(v.valid_from)), el("td", {}, JSON.stringify(v.value)))))));
      } }, "History"),
      el("span", { role: "status" }),
      history,
    );
    unsaved.set(`rule:${r.id}`, { label: `${r.title} (as edited below)`, body: () => ({ rule_id: r.id, rule: { content: content.value, value: Object.fromEntries(fields.map((f) => [f.key, f.read()])) } }) });
    form.addEventListener("submit", (event) => {
      const value = {};
      for (const f of fields) {
        try { value[f.key] = f.read(); } catch (_) {
          event.preventDefault();
          form.querySelector(`[data-error="value.${f.key}"]`).textContent = "not valid JSON";
          return;
        }
      }
      return saver(form, "PUT", `/api/v1/business-rules/${r.id}`, () => ({ content: content.value, value }), () => knowledgePage())(event);
    });
    return el("div", { class: "card" }, form);
  });

  const FAQ_CATEGORIES = ["booking", "menu", "pricing", "policies", "setup", "event", "general"];
  const faqCards = faqs.map((f) => {
    const answer = el("textarea", { "aria-label": `Answer to “${f.question}”` }, f.answer);
    const remove = deleter(`the FAQ “${f.question}”`, `/api/v1/faqs/${f.id}`, "faqs");
    const form = el("form", { "data-faq": f.id }, el("strong", {}, f.question), el("p", { class: "formula" }, `${f.view_count} views · ${f.helpful_count} helpful · ${f.category}`), field("Answer ", answer, "answer"), el("button", { type: "submit" }, "Save"), " ", remove, el("span", { role: "status" }));
    form.addEventListener("submit", saver(form, "PUT", `/api/v1/faqs/${f.id}`, () => ({ answer: answer.value })));
    return el("div", { class: "card" }, form);
  });
  const newFaq = (() => {
    const question = el("input", { class: "wide", "aria-label": "New FAQ question", maxlength: 500 });
    const answer = el("textarea", { "aria-label": "New FAQ answer" });
    const keywords = el("input", { class: "wide", "aria-label": "New FAQ keywords" });
    const category = el("select", { "aria-label": "New FAQ category" }, FAQ_CATEGORIES.map((c) => el("option", { value: c }, c)));
    const form = el("form", { "data-faq": "new" }, el("strong", {}, "Add an FAQ"), field("Question ", question, "question"), field("Answer (values as {{ adult_price }} and the like) ", answer, "answer"), field("Other words customers use (keywords) ", keywords, "keywords"), field("Category ", category, "category"), el("button", { type: "submit" }, "Add FAQ"), el("span", { role: "status" }));
    const faq = () => ({ question: question.value, answer: answer.value, keywords: keywords.value, category: category.value });
    unsaved.set("faq:new", { label: "The new FAQ (as written below)", body: () => ({ faq: faq() }) });
    form.addEventListener("submit", saver(form, "POST", "/api/v1/faqs", faq, async () => { await knowledgePage(); location.hash = "faqs"; }));
    return el("div", { class: "card" }, form);
  })();

  const offerForm = (o) => {
    const title = el("input", { value: o ? o.title : "", "aria-label": "Offer title" });
    const kind = el("select", { "aria-label": "Discount type" }, ["percentage", "fixed_amount"].map((k) => el("option", { value: k, selected: o && o.discount_type === k }, k)));
    const amount = el("input", { type: "number", step: "0.01", value: o ? o.discount_value : "", "aria-label": "Discount" });
    const from = el("input", { type: "date", value: o ? o.valid_from : "", "aria-label": "Valid from" });
    const to = el("input", { type: "date", value: o ? o.valid_to : "", "aria-label": "Valid to" });
    const form = el("form", { "data-offer": o ? o.id : "new" }, field("Title ", title, "title"), field("Type ", kind, "discount_type"), field("Discount ", amount, "discount_value"), field("From ", from, "valid_from"), field("To ", to, "valid_to"), el("button", { type: "submit" }, o ? "Save" : "Add offer"), " ", o ? deleter(`the offer “${o.title}”`, `/api/v1/offers/${o.id}`, "offers") : null, el("span", { role: "status" }));
    form.addEventListener("submit", saver(form, o ? "PUT" : "POST", o ? `/api/v1/offers/${o.id}` : "/api/v1/offers", () => ({ title: title.value, discount_type: kind.value, discount_value: amount.value, valid_from: from.value, valid_to: to.value })));
    return el("div", { class: "card" }, form);
  };

  // Saved replies: the team's own wording, inserted into a case's reply with one click.
  const replyForm = (r) => {
    const title = el("input", { value: r ? r.title : "", maxlength: 100, "aria-label": r ? `Title of “${r.title}”` : "New saved reply title" });
    const body = el("textarea", { maxlength: 1600, "aria-label": r ? `Text of “${r.title}”` : "New saved reply text" }, r ? r.body : "");
    const remove = r ? deleter(`the saved reply “${r.title}”`, `/api/v1/saved-replies/${r.id}`, "replies") : null;
    const form = el("form", { "data-saved-reply": r ? r.id : "new" }, field("Title ", title, "title"), field("Text ", body, "body"), el("button", { type: "submit" }, r ? "Save" : "Add saved reply"), " ", remove, el("span", { role: "status" }));
    form.addEventListener("submit", saver(form, r ? "PUT" : "POST", r ? `/api/v1/saved-replies/${r.id}` : "/api/v1/saved-replies", () => ({ title: title.value, body: body.value }), r ? null : async () => { await knowledgePage(); location.hash = "replies"; }));
    return el("div", { class: "card" }, form);
  };

  // Try it: the agent's answer to a new customer's question, with an edit not yet saved.
  const tryQuestion = el("input", { id: "try-question", class: "wide", maxlength: 1600 });
  const tryWith = el("select", { id: "try-with" }, el("option", { value: "" }, "Nothing: the knowledge as saved"), [...unsaved].map(([key, u]) => el("option", { value: key }, u.label)));
  const tryAnswer = el("div", { "aria-live": "polite", id: "try-answer" });
  const tryCard = me.role === "admin"
    ? el(
        "form",
        {
          class: "card",
          "aria-label": "Try it",
          onsubmit: async (event) => {
            event.preventDefault();
            tryAnswer.replaceChildren(el("p", { class: "formula" }, "Asking…"));
            try {
              const extra = tryWith.value ? unsaved.get(tryWith.value).body() : {};
              const a = await api("POST", "/api/v1/knowledge/try", { question: tryQuestion.value, ...extra });
              tryAnswer.replaceChildren(
                el("div", { class: "msg outbound agent" }, a.reply || "(no reply)"),
                el("p", { class: "formula" }, `${a.outcome === "escalated" ? "A person would get this as a case. " : ""}Read as ${a.intent.replace(/_/g, " ")}; rules: ${a.rules.join(", ") || "none"}. Nothing was saved or sent.`),
              );
            } catch (e) {
              tryAnswer.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
            }
          },
        },
        el("h2", {}, "Try it"),
        el("p", { class: "formula" }, "What the agent would answer a new customer, with an edit you have not saved. Nothing is saved or sent."),
        el("div", { class: "field" }, el("label", { for: "try-question" }, "A customer asks"), tryQuestion),
        el("div", { class: "field" }, el("label", { for: "try-with" }, "With the unsaved changes in"), tryWith),
        el("button", { type: "submit", class: "primary" }, "Try"),
        tryAnswer,
      )
    : null;

  show(
    el("h1", {}, "Knowledge"),
    readOnly,
    tryCard,
    el("h2", { id: "addons" }, "Add-ons and prices"), addonRows, me.role === "admin" ? newAddon : null,
    el("h2", { id: "offers" }, "Seasonal offers"), offers.map(offerForm), offerForm(null),
    el("h2", { id: "faqs" }, "FAQs"), faqCards, me.role === "admin" ? newFaq : null,
    el("h2", { id: "replies" }, "Saved replies"),
    el("p", { class: "formula" }, "For the team's replies on a case; {name} becomes the customer's first name and {reference} the booking's."),
    replies.map(replyForm), me.role === "admin" ? replyForm(null) : null,
    el("h2", { id: "rules" }, "Business rules"), ruleCards,
  );
  // Agents read the knowledge; only an admin's forms can be used.
  if (me.role !== "admin") {
    app().querySelectorAll("form input, form textarea, form select, form button[type=submit], form button.danger").forEach((n) => { n.disabled = true; });
  }
}

// ---- stats ----------------------------------------------------------------------------------

function bars(title, entries, unit = "") {
  // Each label on its own line above its bar, so a long reason is read whole; the chart keeps
  // its drawn size on a wide screen and shrinks on a narrow one.
  const width = 420, row = 40, barLeft = 0, room = width - 60;
  const max = Math.max(1, ...entries.map(([, v]) => v || 0));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${entries.length * row + 6}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  entries.forEach(([label, value], i) => {
    const y = i * row + 4;
    const length = ((value || 0) / max) * room;
    const text = document.createElementNS(svg.namespaceURI, "text");
    text.setAttribute("x", "0"); text.setAttribute("y", String(y + 12)); text.setAttribute("font-size", "13");
    text.textContent = label;
    const rect = document.createElementNS(svg.namespaceURI, "rect");
    rect.setAttribute("x", String(barLeft)); rect.setAttribute("y", String(y + 18));
    rect.setAttribute("height", "14"); rect.setAttribute("fill", "#1f6feb");
    rect.setAttribute("width", String(length));
    const amount = document.createElementNS(svg.namespaceURI, "text");
    amount.setAttribute("x", String(barLeft + length + 6));
    amount.setAttribute("y", String(y + 30)); amount.setAttribute("font-size", "13");
    amount.textContent = value === null || value === undefined ? "n/a" : `${Math.round(value * 100) / 100}${unit}`;
    svg.append(text, rect, amount);
  });
  return el("div", { class: "card" }, el("h2", {}, title), svg);
}

async function statsPage() {
  const days = Number(new URLSearchParams(location.search).get("days") || 30);
  pageTitle("Stats");
  const s = await api("GET", `/api/v1/stats?days=${days}`);
  const figure = (title, f) =>
    el("div", { class: "card figure" }, el("div", {}, title), el("div", { class: "value" }, percent(f.value)), el("div", { class: "formula" }, `${f.numerator ?? 0} / ${f.denominator ?? 0}: ${f.formula}`));
  show(
    el("h1", {}, `Stats, last ${s.days} days`),
    el("div", { class: "filters" }, [7, 30, 90].map((d) => el("a", { class: "button", href: `/console/stats?days=${d}` }, `${d} days`))),
    el(
      "div",
      { class: "figures" },
      figure("AI-handled conversations", s.ai_handled_share),
      figure("Escalated conversations", s.escalated_share),
      figure("Reminder delivery rate", s.reminder_delivery_rate),
      figure("Menu chosen by the deadline", s.menu_chosen_by_deadline),
      figure("Review-request response rate", s.review_response_rate),
      figure("4–5 stars sent to Google / Yelp", s.promoter_share),
      figure(`Leads that booked (${plural(s.leads, "lead")}, ${plural(s.quotes_sent, "quote")})`, s.lead_conversion),
    ),
    bars("AI-handled vs escalated", [["AI-handled", s.ai_handled_share.numerator], ["Escalated", s.escalated_share.numerator]]),
    bars("Escalations by priority", PRIORITIES.map((p) => [p, s.escalations_by_priority[p] || 0])),
    bars("Escalations by reason", Object.entries(s.escalations_by_reason)),
    bars("Average resolution time (h)", s.resolution.map((r) => [`${r.priority} (target ${r.target_hours ?? "—"} h)`, r.average_hours]), " h"),
    bars("p90 resolution time (h)", s.resolution.map((r) => [`${r.priority} (target ${r.target_hours ?? "—"} h)`, r.p90_hours]), " h"),
    el("div", { class: "card" }, el("h2", {}, "Resolved within target"), el("table", {}, el("tbody", {}, s.resolution.map((r) => el("tr", {}, el("td", {}, r.priority), el("td", {}, `${r.resolved} resolved`), el("td", {}, percent(r.within_target.value)), el("td", { class: "formula" }, r.within_target.formula)))))),
  );
}

// ---- leads ----------------------------------------------------------------------------------

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function money(value) {
  const amount = Number(value);
  const cents = Number.isInteger(amount) ? 0 : 2;
  return `$${amount.toLocaleString("en-US", { minimumFractionDigits: cents, maximumFractionDigits: cents })}`;
}

const LEAD_COLUMNS = ["Created", "Name", "Contact", "Party on", "Guests", "Where", "Quote", "Status", "Follow-up", "Conversation"];

function leadRow(l) {
  const party = [l.adults ? `${l.adults} adults` : "", l.kids ? `${l.kids} kids` : "", l.toddlers ? `${l.toddlers} little ones` : ""].filter(Boolean).join(", ");
  const on = [l.event_date || "", l.event_time ? l.event_time.slice(0, 5) : ""].filter(Boolean).join(" ");
  const cells = [
    when(l.created_at),
    l.name || "—",
    l.phone || l.email ? [phoneLink(l.phone), l.phone && l.email ? " · " : null, l.email ? el("a", { href: `mailto:${l.email}` }, l.email) : null] : "—",
    on || "—",
    party || "—",
    l.place || l.zip_code || "—",
    l.quote_total === null ? "—" : `${money(l.quote_total)} (${plural(l.quotes_sent, "quote")})`,
    l.status + (l.booking_id ? ` (booking ${l.booking_id})` : ""),
    l.follow_up_sent_at ? `sent ${when(l.follow_up_sent_at)}` : l.follow_up || "—",
    l.conversation_id ? `#${l.conversation_id} (${l.channel})` : l.channel,
  ];
  return el("tr", {}, cells.map((c) => el("td", {}, c)));
}

async function leadsPage() {
  const status = new URLSearchParams(location.search).get("status") || "all";
  pageTitle("Leads");
  const leads = await api("GET", `/api/v1/leads?status=${encodeURIComponent(status)}`);
  const table = el(
    "table",
    { class: "leads" },
    el("thead", {}, el("tr", {}, LEAD_COLUMNS.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, leads.map(leadRow)),
  );
  show(
    el("h1", {}, "Leads"),
    el("p", { class: "formula" }, "Prospects the agent quoted: what they told it, the quote, the one follow-up, and the booking it became."),
    el("div", { class: "filters" }, ["all", "open", "booked", "lost"].map((s) => el("a", { class: "button", href: `/console/leads?status=${s}`, "aria-current": s === status ? "page" : null }, s))),
    // a narrow screen scrolls the table, not the page; the region takes the keyboard
    leads.length === 0 ? el("p", {}, "No leads yet.") : el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Leads" }, table),
  );
}

// ---- routing --------------------------------------------------------------------------------

async function route() {
  if (queueStream) { queueStream.abort(); queueStream = null; }
  const path = location.pathname.replace(/\/+$/, "");
  if (path === "/console/setup") return setupPage();
  try {
    if (!me) me = await api("GET", "/api/v1/me");
    const who = document.getElementById("who");
    who.textContent = `${me.name} (${me.role}) · times in ${zoneName()} `;
    who.append(el("button", { type: "button", onclick: signOut }, "Sign out"));
    document.getElementById("people-link").hidden = me.role !== "admin";
    const thread = path.match(/^\/console\/escalations\/(\d+)$/);
    if (thread) return await threadPage(Number(thread[1]));
    if (path === "/console/knowledge") return await knowledgePage();
    if (path === "/console/stats") return await statsPage();
    if (path === "/console/leads") return await leadsPage();
    if (path === "/console/users") return await usersPage();
    if (path === "/console/inbox") return await inboxPage();
    const customer = path.match(/^\/console\/customers\/(\d+)$/);
    if (customer) return await customerPage(Number(customer[1]));
    return await queuePage();
  } catch (e) {
    if (e.status === 401) return signIn();
    show(el("p", { class: "error", role: "alert" }, e.message));
  }
}

document.addEventListener("DOMContentLoaded", route);
