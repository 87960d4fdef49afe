// Relay's web page for people in channels. Preact + htm (vendored); every piece of text that comes
// from the server, a service or another user is rendered as text, never as markup.
import { html, render, useState, useEffect, useLayoutEffect, useRef } from "./vendor/preact-htm.js";
import { Api, Conn, loadSession, saveSession } from "./proto.js";

// ---- state (one store; the root re-renders on every change) ----
const S = {
  session: loadSession(),
  me: null,            // {user_id, name}
  conn: "offline",     // connecting | online | reconnecting | superseded
  channels: [],        // [{channel_id, channel_name}]
  channelsLoaded: false,
  popular: null,       // null = not browsing
  open: null,          // channel id
  views: {},           // channel id -> view
  profiles: {},        // character id -> {id, name, avatar}
  dialog: null,        // {dialog, title, submit(bottomId, args), back}: a service's dialog, open
  menu: null,          // {channel, message, x, y, back}: the menu of a message, open
  error: null,
};
let redraw = () => {};
const set = (patch) => { Object.assign(S, patch); redraw(); };

function view(ch) {
  if (!S.views[ch]) {
    S.views[ch] = { messages: new Map(), pending: [], characters: [], buttons: [], canvas: [], style: {},
      highlight: new Set(), from: null, epoch: null, info: null, menu: [],
      // Older history: the id to ask before (the oldest message the server gave so far), whether
      // there may be more, a request in flight, and where the log was scrolled when it left.
      cursor: null, more: true, loadingOlder: false, anchor: null, low: 0, high: 0,
      // The log at its end (it follows new messages); messages that came while it was not, or
      // while the channel was not open.
      atEnd: true, unseen: 0, unread: 0 };
  }
  return S.views[ch];
}

const api = new Api(S.session, (s) => { S.session = s; saveSession(s); });
let conn = null;

// ---- session ----
async function startSession() {
  // Who I am and my channels in parallel: the view waits for both.
  const channels = loadChannels();
  try {
    const info = await api.userInfo();
    S.me = { user_id: info.user_id, name: (info.context && info.context.name) || info.email };
  } catch (e) {
    await api.signOut();
    set({ session: null, me: null, error: null });
    return;
  }
  conn = new Conn(api, {
    onState: (st) => set({ conn: st }),
    onFrame,
    onLogin,
    onSignedOut: () => signOut(),
  });
  set({ conn: "connecting" });
  conn.start();
  await channels;
  // The address names the open channel, so a reload (or a link) comes back to it.
  const want = decodeURIComponent(location.hash.slice(1));
  if (want && S.channels.some((c) => c.channel_id === want)) openChannel(want);
  else redraw();
}

function route(ch) {
  const url = location.pathname + location.search + (ch ? "#" + encodeURIComponent(ch) : "");
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
}

function closeChannel() {
  route(null);
  set({ open: null });
}

async function signIn(email, password) {
  set({ error: null });
  try {
    await api.signIn(email, password);
    S.session = api.session;
    await startSession();
  } catch (e) { set({ error: e.message || String(e) }); }
}

async function signOut() {
  if (conn) conn.stop();
  conn = null;
  await api.signOut();
  route(null);
  Object.assign(S, { session: null, me: null, channels: [], channelsLoaded: false, popular: null, open: null, views: {}, conn: "offline", dialog: null, menu: null });
  redraw();
}

async function loadChannels() {
  try {
    const list = await api.channels();
    set({ channels: (list || []).map(normChannel), channelsLoaded: true });
  } catch (e) { set({ error: e.message }); }
}

function normChannel(c) {
  if (typeof c === "string") return { channel_id: c, channel_name: c };
  return { channel_id: c.channel_id, channel_name: c.channel_name || c.channel_id,
    description: c.channel_context && c.channel_context.channel_description };
}

// After every login (the first and each reconnect): resume every channel seen so far from where
// it was, then refresh the open one.
async function onLogin() {
  for (const [ch, v] of Object.entries(S.views)) {
    if (v.from === null) continue;
    const r = await conn.resume(ch, v.from, v.epoch);
    noteResume(v, r);
  }
  if (S.open) {
    const v = view(S.open);
    if (v.from === null) noteResume(v, await conn.resume(S.open));
    conn.action("refresh", S.open);
  }
  redraw();
  await flushOutbox();
}

function noteResume(v, r) {
  if (!r.ok) return;
  if (typeof r.ctx.next_offset === "number") v.from = Math.max(v.from ?? 0, r.ctx.next_offset);
  if (r.ctx.epoch !== undefined) v.epoch = r.ctx.epoch;
}

async function openChannel(ch) {
  route(ch);
  const v = view(ch);
  v.unread = 0;
  set({ open: ch, popular: null });
  if (conn && conn.state === "online") {
    if (v.from === null) noteResume(v, await conn.resume(ch));
    conn.action("refresh", ch);
  }
  await loadHistory(ch, null);
  // For scripts/bench-web: the first channel view with its history, once painted.
  if (!performance.getEntriesByName("relay:channel-view").length) {
    requestAnimationFrame(() => performance.mark("relay:channel-view"));
  }
}

const PAGE = 50;

// One page of history, newest first, older than `before` (a message id; null: the newest).
async function loadHistory(ch, before) {
  const v = view(ch);
  try {
    const hist = (await api.history(ch, PAGE, before)) || [];
    for (const m of hist) addMessage(m.body || m, null, null, true);
    if (before === null && v.cursor !== null) return; // a reopen: older pages are loaded already
    const last = hist[hist.length - 1];
    if (last) v.cursor = (last.body || last).message_id;
    v.more = hist.length >= PAGE;
    needProfiles(hist.map((m) => (m.body || m).sender));
  } catch { /* history is a nicety; scrolling up asks again */ }
  redraw();
}

// Scrolled to the top: the page before the oldest one, keeping what is on screen where it is.
async function loadOlder(ch, el) {
  const v = view(ch);
  if (v.loadingOlder || !v.more || v.cursor === null) return;
  v.loadingOlder = true;
  redraw();
  // The first message on screen, and how far below the log's top it is.
  const first = [...el.querySelectorAll("article[data-id]")].find((a) => a.offsetTop + a.offsetHeight > el.scrollTop);
  v.anchor = first ? { id: first.dataset.id, delta: first.offsetTop - el.scrollTop } : null;
  await loadHistory(ch, v.cursor);
  v.loadingOlder = false;
  redraw();
}

async function join(ch) {
  const r = await conn.action("join_channel", ch);
  if (!r.ok) { set({ error: r.ctx.message || "Could not join." }); return; }
  await loadChannels();
  openChannel(ch);
}

async function leave(ch) {
  await conn.action("leave_channel", ch);
  delete S.views[ch];
  if (S.open === ch) closeChannel();
  await loadChannels();
}

async function browse() {
  try {
    const list = await api.popular();
    route(null);
    set({ popular: (list || []).map(normChannel), open: null });
  } catch (e) { set({ error: e.message }); }
}

// ---- frames ----
function onFrame(f) {
  const b = f.body || {};
  if (f.type === "message_down" || f.type === "message_up") {
    addMessage(b, f.offset, f.epoch);
    needProfiles([b.sender]);
    redraw();
  } else if (f.type === "update") {
    const ch = b.channel_id || f.channel_id;
    if (!ch) return;
    const v = view(ch);
    switch (b.subtype) {
      case "characters": loadCharacters(ch, b.content && b.content.characters); break;
      case "buttons": v.buttons = Array.isArray(b.content) ? b.content : []; break;
      case "menu": v.menu = Array.isArray(b.content) ? b.content : []; break;
      case "canvas": v.canvas = Array.isArray(b.content) ? b.content : []; break;
      case "style": applyStyle(v, Array.isArray(b.content) ? b.content : []); break;
      case "channel_info": v.info = b.content || null; break;
    }
    redraw();
  }
}

// Messages are ordered by a rank, not by time: timestamps come from each sender's clock and
// often tie, and history (newest first) carries no offsets. Live messages and my own bubbles
// take ranks above every other, older history pages ranks below.
function addMessage(b, offset, epoch, older = false) {
  if (!b.channel_id || !b.message_id) return;
  const v = view(b.channel_id);
  if (typeof offset === "number") {
    v.from = Math.max(v.from ?? 0, offset + 1);
    if (epoch !== undefined) v.epoch = epoch;
  }
  if (v.messages.has(b.message_id)) return;
  if (!older && b.sender !== (S.me && S.me.user_id)) {
    if (S.open !== b.channel_id) v.unread++;
    else if (!v.atEnd) v.unseen++;
  }
  const m = { id: b.message_id, sender: b.sender, subtype: b.subtype, content: b.content || {},
    timestamp: b.timestamp || Date.now(), offset, rank: older ? --v.low : ++v.high };
  // My own message, back from history (or echoed as mine by the service), takes its bubble's place.
  if (b.sender === (S.me && S.me.user_id)) {
    const c = m.content;
    const i = v.pending.findIndex((p) => p.subtype === b.subtype && (b.timestamp || 0) >= p.timestamp - 30000
      && (p.subtype === "text" ? p.text === c.text : p.path === c.path));
    if (i >= 0) { m.rank = v.pending[i].rank; v.pending.splice(i, 1); }
  }
  v.messages.set(b.message_id, m);
}

function applyStyle(v, items) {
  for (const it of items) {
    if (it.widget === "canvas") {
      v.style.canvas = it.display !== "invisible";
      v.style.expand = !!it.expand;
    } else if (it.widget === "button" && it.button_id) {
      if (it.display === "highlight") v.highlight.add(it.button_id); else v.highlight.delete(it.button_id);
    }
  }
}

async function loadCharacters(ch, groupId) {
  if (typeof groupId !== "string") return;
  try {
    const ids = await api.group(groupId, ch);
    const profs = await api.profiles(ids);
    for (const p of profs) S.profiles[p.id] = p;
    view(ch).characters = profs;
    redraw();
  } catch { /* keep the old list */ }
}

const asked = new Set();
async function needProfiles(ids) {
  const want = [...new Set(ids)].filter((id) => typeof id === "string" && !S.profiles[id] && !asked.has(id));
  if (!want.length) return;
  want.forEach((id) => asked.add(id));
  try {
    for (const p of await api.profiles(want)) S.profiles[p.id] = p;
    redraw();
  } catch { /* names stay ids */ }
}

// The recipients of a message_up: "service", or a group of the chosen characters.
async function recipientsFor(ch, to) {
  const v = view(ch);
  if (to === "service" || !v.characters.length) return "service";
  return api.createGroup(ch, to === "all" ? v.characters.map((c) => c.id) : [to]);
}

// What I sent, shown in the log as mine: the server never echoes a message_up to its sender, so
// this bubble is the only sign of it until history brings the message itself (with its id),
// which then takes its place.
function pendingBubble(ch, p) {
  const v = view(ch);
  p.key = Math.random();
  p.timestamp = Date.now();
  p.rank = ++v.high;
  v.atEnd = true; // what I send, I see
  v.pending.push(p);
  redraw();
  return p;
}

// Bubbles waiting for the connection, in the order they were written; sent after the next login.
const outbox = [];

function waitForConnection(ch, p) {
  p.state = "waiting";
  if (!outbox.some((o) => o.p === p)) outbox.push({ ch, p });
  redraw();
}

async function flushOutbox() {
  for (const { ch, p } of outbox.splice(0)) await deliver(ch, p);
}

// Sends a bubble's message_up. Written while the server is away, it waits and goes out after
// the next login; refused, it says why and offers Retry.
async function deliver(ch, p) {
  if (!conn || conn.state !== "online") { waitForConnection(ch, p); return; }
  p.state = "sending";
  redraw();
  let recipients;
  try { recipients = await recipientsFor(ch, p.to); } catch (e) {
    if (e.offline) waitForConnection(ch, p); else { p.state = "failed"; p.error = e.message; redraw(); }
    return;
  }
  const r = await conn.messageUp(ch, recipients, p.subtype, p.content);
  if (r.ok) p.state = "sent";
  else if (r.ctx.offline) { waitForConnection(ch, p); return; }
  else { p.state = "failed"; p.error = r.ctx.message || "not sent"; }
  redraw();
}

function sendText(ch, text, to) {
  const p = pendingBubble(ch, { subtype: "text", text, to, content: { text }, state: "sending" });
  p.retry = () => deliver(ch, p);
  deliver(ch, p);
}

// image/* is shown inline, audio/* as a player, anything else as a link to download.
const subtypeOf = (file) => (/^image\//.test(file.type) ? "image" : /^audio\//.test(file.type) ? "audio" : "file");

function sendFile(ch, file, to) {
  const p = pendingBubble(ch, { subtype: subtypeOf(file), text: file.name, to, state: "uploading" });
  const upload = async () => {
    if (!p.path) {
      p.state = "uploading";
      redraw();
      try { p.path = await api.upload(file); } catch (e) { p.state = "failed"; p.error = e.message; redraw(); return; }
      p.content = { path: p.path, filename: file.name, size: file.size };
    }
    await deliver(ch, p);
  };
  p.retry = upload;
  upload();
}

function discard(ch, p) {
  const v = view(ch);
  v.pending = v.pending.filter((x) => x !== p);
  const i = outbox.findIndex((o) => o.p === p);
  if (i >= 0) outbox.splice(i, 1);
  redraw();
}

// The service's menu items that apply to a message: by its subtype ("all" for every one); my
// own bubbles have no id yet, so nothing to name in a click.
function menuItemsFor(v, m) {
  if (m.local) return [];
  return v.menu.filter((it) => {
    const subs = Array.isArray(it.message_subtypes) ? it.message_subtypes : [it.message_subtypes];
    return it && typeof it.menu_item_id === "string" && (subs.includes(m.subtype) || subs.includes("all"));
  });
}

// As the SDK's send_menu_item_click with the message as a dict: its id, subtype and content.
function menuClick(ch, item, m, bottomId, args) {
  conn.action("menu_item_click", ch, { menu_item_id: item.menu_item_id, message_id: m.id, message_subtype: m.subtype,
    message_content: m.content, arguments: args, bottom_button_id: bottomId });
}

function openMenu(ch, m, x, y, back) {
  // The ContextMenu key gives both its keydown and a contextmenu event: one menu.
  if (S.menu && S.menu.message.id === m.id) return;
  set({ menu: { channel: ch, message: m, x, y, back } });
}

function closeMenu(refocus = true) {
  const back = S.menu && S.menu.back;
  set({ menu: null });
  if (refocus && back && back.isConnected) back.focus();
}

function chooseMenuItem(it) {
  const { channel, message, back } = S.menu;
  closeMenu(!it.dialog);
  if (it.dialog) openDialog(it.dialog, str(it.menu_item_text), (bb, args) => menuClick(channel, it, message, bb, args), back);
  else menuClick(channel, it, message, "confirm", []);
}

function Menu() {
  const { channel, message, x, y } = S.menu;
  const items = menuItemsFor(view(channel), message);
  const box = useRef(null);
  useLayoutEffect(() => {
    const first = box.current && box.current.querySelector("[role=menuitem]");
    if (first) first.focus();
  }, []);
  useEffect(() => {
    const away = (e) => { if (box.current && !box.current.contains(e.target)) closeMenu(false); };
    document.addEventListener("mousedown", away);
    return () => document.removeEventListener("mousedown", away);
  }, []);
  useLayoutEffect(() => {
    // Inside the window, whatever the pointer's position (style set through the DOM: the CSP
    // allows no inline style).
    const el = box.current;
    if (!el) return;
    el.style.left = Math.max(4, Math.min(x, innerWidth - el.offsetWidth - 4)) + "px";
    el.style.top = Math.max(4, Math.min(y, innerHeight - el.offsetHeight - 4)) + "px";
  });
  const onKey = (e) => {
    const all = [...box.current.querySelectorAll("[role=menuitem]")];
    const i = all.indexOf(document.activeElement);
    const go = (j) => { e.preventDefault(); all[(j + all.length) % all.length].focus(); };
    if (e.key === "ArrowDown") go(i + 1);
    else if (e.key === "ArrowUp") go(i - 1);
    else if (e.key === "Home") go(0);
    else if (e.key === "End") go(all.length - 1);
    else if (e.key === "Escape") { e.preventDefault(); closeMenu(); }
    else if (e.key === "Tab") { e.preventDefault(); closeMenu(); }
  };
  return html`<div class="menu" role="menu" aria-label="Message actions" ref=${box} onKeyDown=${onKey}>
    ${items.map((it) => html`<button type="button" role="menuitem" tabindex="-1" key=${it.menu_item_id}
      onClick=${() => chooseMenuItem(it)}>${str(it.menu_item_text)}</button>`)}
  </div>`;
}

function click(ch, button, bottomId, args) {
  conn.action("button_click", ch, { button_id: button.button_id, arguments: args, bottom_button_id: bottomId });
}

// ---- views ----
const safeUrl = (u) => (typeof u === "string" && /^(https?:\/\/|\/)/i.test(u) ? u : null);
const str = (x) => (x === null || x === undefined ? "" : String(x));

function Avatar({ id }) {
  const p = S.profiles[id];
  const [broken, setBroken] = useState(false);
  const name = (p && p.name) || str(id);
  const url = p && safeUrl(p.avatar);
  if (!url || broken) return html`<span class="avatar ph" aria-hidden="true">${(name[0] || "?").toUpperCase()}</span>`;
  return html`<img class="avatar" src=${url} alt="" onError=${() => setBroken(true)} />`;
}

function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => { e.preventDefault(); setBusy(true); await signIn(email, password); setBusy(false); };
  return html`<main class="signin">
    <form onSubmit=${submit}>
      <h1>Relay</h1>
      <label for="email">Email</label>
      <input id="email" type="email" autocomplete="username" autofocus required value=${email} onInput=${(e) => setEmail(e.target.value)} />
      <label for="password">Password</label>
      <input id="password" type="password" autocomplete="current-password" required value=${password} onInput=${(e) => setPassword(e.target.value)} />
      ${S.error && html`<p role="alert" class="error">${S.error}</p>`}
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}

function Banner() {
  if (S.conn === "reconnecting") return html`<div role="status" class="banner">Reconnecting…</div>`;
  if (S.conn === "superseded") {
    return html`<div role="status" class="banner">Signed in elsewhere.
      <button onClick=${() => { set({ conn: "connecting" }); conn.start(); }}>Use here</button></div>`;
  }
  return html`<div role="status" class="banner-empty"></div>`;
}

function Sidebar() {
  return html`<nav class="side" aria-label="Channels">
    <h2>Channels</h2>
    <ul>
      ${S.channels.map((c) => html`<li key=${c.channel_id}>
        <button class=${"chan" + (S.open === c.channel_id ? " current" : "")} aria-current=${S.open === c.channel_id ? "true" : undefined}
          onClick=${() => openChannel(c.channel_id)}>${c.channel_name}${view(c.channel_id).unread > 0
            && html` <span class="badge">${view(c.channel_id).unread}<span class="sr-only"> unread</span></span>`}</button>
      </li>`)}
    </ul>
    ${!S.channels.length && html`<p class="muted">${S.channelsLoaded ? "No channels yet." : "Loading…"}</p>`}
    <button onClick=${browse}>Browse channels</button>
  </nav>`;
}

function Browse() {
  const mine = new Set(S.channels.map((c) => c.channel_id));
  return html`<section class="main" aria-label="Browse channels">
    <h2>Browse channels</h2>
    <ul class="browse">
      ${S.popular.map((c) => html`<li key=${c.channel_id}>
        <span class="name">${c.channel_name}</span>
        ${mine.has(c.channel_id)
          ? html`<button onClick=${() => openChannel(c.channel_id)}>Open</button>`
          : html`<button onClick=${() => join(c.channel_id)} aria-label=${"Join " + c.channel_name}>Join</button>`}
      </li>`)}
    </ul>
    ${!S.popular.length && html`<p class="muted">No channels to join.</p>`}
  </section>`;
}

function size(n) {
  if (typeof n !== "number" || !(n >= 0)) return "";
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

function Content({ m }) {
  const c = m.content || {};
  const url = safeUrl(c.path);
  const name = str(c.filename) || (url ? decodeURIComponent(url.split("/").pop() || "") : "");
  switch (m.subtype) {
    case "image": return url
      ? html`<a href=${url} target="_blank" rel="noopener noreferrer" class="img-link"><img class="msg-img" src=${url} alt=${name || "image"} loading="lazy" /></a>`
      : html`<span>${str(c.text)}</span>`;
    case "audio": return url ? html`<audio controls preload="metadata" src=${url} aria-label=${name || "audio"}></audio>` : null;
    case "file": return url
      ? html`<a class="file" href=${url} download=${name} rel="noopener">${name || "file"}</a>${c.size !== undefined && c.size !== null && html` <span class="muted">${size(c.size)}</span>`}`
      : null;
    case "card": {
      const link = safeUrl(c.link);
      return html`<div class="card">
        ${c.title && html`<strong>${str(c.title)}</strong>`}
        ${c.text && html`<p>${str(c.text)}</p>`}
        ${link && html`<a href=${link} target="_blank" rel="noopener noreferrer">${str(c.button) || "Open"}</a>`}
      </div>`;
    }
    default: return html`<span class="text">${str(c.text)}</span>`;
  }
}

const order = (a, b) => a.rank - b.rank;

function Message({ ch, v, m }) {
  const items = menuItemsFor(v, m);
  const menuAt = (el) => { const r = el.getBoundingClientRect(); openMenu(ch, m, r.left + 8, r.bottom, el.closest("article")); };
  const onContextMenu = items.length ? (e) => { e.preventDefault(); openMenu(ch, m, e.clientX, e.clientY, e.currentTarget); } : undefined;
  const onKeyDown = items.length ? (e) => {
    if (e.target !== e.currentTarget) return;
    if (e.key === "ContextMenu" || (e.shiftKey && e.key === "F10")) { e.preventDefault(); menuAt(e.currentTarget); }
  } : undefined;
  const mine = m.sender === S.me.user_id || m.local;
  const p = S.profiles[m.sender];
  const t = new Date(m.timestamp);
  const name = m.local ? S.me.name : (p && p.name) || str(m.sender);
  return html`<article class=${"msg" + (mine ? " mine" : "") + (m.local ? " pending" : "")} tabindex="-1" data-id=${m.id}
      aria-keyshortcuts=${items.length ? "Shift+F10" : undefined} onContextMenu=${onContextMenu} onKeyDown=${onKeyDown}>
    <${Avatar} id=${m.local ? S.me.user_id : m.sender} />
    <div class="bubble">
      <div class="meta"><span class="sender">${name}</span>
        <time datetime=${t.toISOString()}>${t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</time></div>
      ${m.local && !m.content.path ? html`<span class="text">${m.text}</span>` : html`<${Content} m=${m} />`}
      ${m.local && html`<span class="state">${STATES[m.state] || "not sent: " + str(m.error)}</span>`}
      ${m.local && m.state === "failed" && html`<span class="again">
        <button type="button" onClick=${() => m.bubble.retry()}>Retry</button>
        <button type="button" onClick=${() => discard(ch, m.bubble)}>Discard</button></span>`}
    </div>
    ${items.length > 0 && html`<button type="button" class="more" tabindex="-1" aria-label="More actions" aria-haspopup="menu"
      onClick=${(e) => menuAt(e.currentTarget)}>⋯</button>`}
  </article>`;
}

function Log({ ch, v }) {
  const ref = useRef(null);
  const local = v.pending.map((p) => ({ ...p, id: p.key, local: true, sender: S.me.user_id, bubble: p,
    content: p.path ? { path: p.path, filename: p.text } : {} }));
  const items = [...v.messages.values(), ...local].sort(order);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (v.anchor && !v.loadingOlder) {
      // Older messages went in above: keep what was on screen where it was.
      const a = [...el.querySelectorAll("article[data-id]")].find((x) => x.dataset.id === v.anchor.id);
      if (a) el.scrollTop = a.offsetTop - v.anchor.delta;
      v.anchor = null;
    } else if (v.atEnd) {
      el.scrollTop = el.scrollHeight;
    }
  });
  const onScroll = (e) => {
    const el = e.currentTarget;
    const end = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (end !== v.atEnd || (end && v.unseen)) {
      v.atEnd = end;
      if (end) v.unseen = 0;
      redraw();
    }
    if (el.scrollTop < 60) loadOlder(ch, el);
  };
  // Arrow keys, Home and End move among the messages (each focusable, for its menu's keys).
  const onKey = (e) => {
    const all = [...ref.current.querySelectorAll("article[data-id]")];
    if (!all.length || !["ArrowUp", "ArrowDown", "Home", "End"].includes(e.key)) return;
    if (e.target !== ref.current && !all.includes(e.target)) return;
    const i = all.indexOf(e.target);
    const j = e.key === "Home" ? 0 : e.key === "End" ? all.length - 1
      : i < 0 ? all.length - 1 : Math.max(0, Math.min(all.length - 1, i + (e.key === "ArrowUp" ? -1 : 1)));
    e.preventDefault();
    all[j].focus();
    if (j === 0) loadOlder(ch, ref.current);
  };
  const toEnd = () => {
    v.atEnd = true;
    v.unseen = 0;
    redraw();
  };
  return html`<div class="log-wrap"><div class="log" role="log" aria-label="Messages" ref=${ref} tabindex="0" onScroll=${onScroll} onKeyDown=${onKey}>
    <div class="log-start">${v.loadingOlder ? html`<span class="muted">Loading older messages…</span>`
      : v.more && v.cursor !== null ? html`<button type="button" onClick=${() => loadOlder(ch, ref.current)}>Older messages</button>`
      : html`<span class="muted">${v.messages.size ? "The start of the conversation" : "No messages yet"}</span>`}</div>
    ${items.map((m) => html`<${Message} ch=${ch} v=${v} m=${m} key=${m.id} />`)}
  </div>
  ${v.unseen > 0 && html`<button type="button" class="jump" onClick=${toEnd}>${v.unseen === 1 ? "1 new message" : v.unseen + " new messages"} ↓</button>`}
  </div>`;
}

const STATES = { uploading: "uploading…", sending: "sending…", sent: "✓ sent to the service",
  waiting: "waiting for the connection…" };

function Composer({ ch, v }) {
  const [text, setText] = useState("");
  const [to, setTo] = useState("all");
  const target = () => (v.characters.length ? to : "service");
  const send = () => {
    const t = text.trim();
    if (!t) return;
    sendText(ch, t, target());
    setText("");
  };
  const onKey = (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  };
  // A pasted file (a screenshot, say) is sent as an upload; pasted text stays text.
  const onPaste = (e) => {
    const files = e.clipboardData ? [...e.clipboardData.files] : [];
    if (!files.length) return;
    e.preventDefault();
    for (const f of files) sendFile(ch, f, target());
  };
  const attach = (e) => {
    for (const f of e.target.files) sendFile(ch, f, target());
    e.target.value = "";
  };
  return html`<form class="composer" onSubmit=${(e) => { e.preventDefault(); send(); }}>
    <label class="to">To
      <select value=${to} onChange=${(e) => setTo(e.target.value)}>
        <option value="all">Everyone</option>
        <option value="service">The service</option>
        ${v.characters.filter((c) => c.id !== S.me.user_id).map((c) => html`<option value=${c.id} key=${c.id}>${c.name}</option>`)}
      </select>
    </label>
    <textarea aria-label="Message" rows="2" value=${text} onInput=${(e) => setText(e.target.value)} onKeyDown=${onKey} onPaste=${onPaste}
      placeholder="Message (Enter sends, Shift+Enter new line)"></textarea>
    <input type="file" id=${"attach-" + ch} class="sr-only" multiple onChange=${attach} />
    <label for=${"attach-" + ch} class="attach button" title="Attach files">Attach</label>
    <button type="submit">Send</button>
  </form>`;
}

// Opens a service's dialog (of a button or a menu item); `submit` gets the bottom button's id and
// the values in component order. Focus goes back where it was when the dialog closes.
function openDialog(d, title, submit, back = document.activeElement) {
  set({ dialog: { dialog: d || {}, title, submit, back } });
}

function closeDialog() {
  const back = S.dialog && S.dialog.back;
  set({ dialog: null });
  if (back && back.isConnected) back.focus();
}

function Dialog() {
  const { dialog: d, title, submit } = S.dialog;
  const comps = Array.isArray(d.components) ? d.components : [];
  const bottoms = Array.isArray(d.bottom_buttons) && d.bottom_buttons.length ? d.bottom_buttons : [{ id: "confirm", text: "Confirm", submit: true }];
  const [vals, setVals] = useState(() => comps.map(() => ""));
  const [err, setErr] = useState(null);
  const box = useRef(null);
  useEffect(() => {
    const first = box.current && box.current.querySelector("input,select,textarea,button");
    if (first) first.focus();
  }, []);
  const close = closeDialog;
  const press = (bb) => {
    if (!bb.submit) { close(); return; }
    const missing = comps.findIndex((c, i) => c.required && c.type !== "invalid" && !vals[i]);
    if (missing >= 0) { setErr(`${str(comps[missing].label)} is required.`); return; }
    submit(str(bb.id), comps.map((c, i) => ({ label: str(c.label), value: vals[i] })));
    close();
  };
  const onKey = (e) => {
    if (e.key === "Escape") { e.preventDefault(); close(); }
    // Enter in a one-line field presses the first submitting button, as in any form.
    if (e.key === "Enter" && e.target.tagName === "INPUT" && !e.isComposing) {
      const bb = bottoms.find((b) => b.submit);
      if (bb) { e.preventDefault(); press(bb); }
    }
    if (e.key === "Tab" && box.current) { // keep focus inside the dialog
      const f = [...box.current.querySelectorAll("input,select,textarea,button")];
      if (!f.length) return;
      const i = f.indexOf(document.activeElement);
      if (e.shiftKey && i <= 0) { e.preventDefault(); f[f.length - 1].focus(); }
      else if (!e.shiftKey && i === f.length - 1) { e.preventDefault(); f[0].focus(); }
    }
  };
  const setV = (i, x) => setVals(vals.map((o, j) => (j === i ? x : o)));
  return html`<div class="overlay">
    <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dlg-title" ref=${box} onKeyDown=${onKey}>
      <h2 id="dlg-title">${str(d.title) || title}</h2>
      ${comps.map((c, i) => {
        const id = "dlg-f" + i;
        const label = html`<label for=${id}>${str(c.label)}${c.required ? " *" : ""}</label>`;
        if (c.type === "dropdown") {
          return html`<div class="field">${label}<select id=${id} required=${!!c.required} value=${vals[i]} onChange=${(e) => setV(i, e.target.value)}>
            <option value="">${str(c.placeholder) || "Choose…"}</option>
            ${(c.choices || []).map((ch) => html`<option value=${str(ch)}>${str(ch)}</option>`)}
          </select></div>`;
        }
        if (c.type === "textbox") {
          return html`<div class="field">${label}<textarea id=${id} placeholder=${str(c.placeholder)} value=${vals[i]} onInput=${(e) => setV(i, e.target.value)}></textarea></div>`;
        }
        if (c.type === "invalid") {
          // A component the service marks as not usable: its text is shown, its value is empty.
          return html`<div class="field"><span class="label">${str(c.label)}</span>
            ${c.placeholder && html`<span class="muted">${str(c.placeholder)}</span>`}</div>`;
        }
        const type = c.type === "number" ? "number" : c.type === "password" ? "password" : "text";
        return html`<div class="field">${label}<input id=${id} type=${type} placeholder=${str(c.placeholder)} value=${vals[i]} onInput=${(e) => setV(i, e.target.value)} /></div>`;
      })}
      ${err && html`<p role="alert" class="error">${err}</p>`}
      <div class="bottom">
        ${bottoms.map((bb) => html`<button type="button" class=${bb.submit ? "primary" : ""} onClick=${() => press(bb)}>${str(bb.text) || str(bb.id)}</button>`)}
      </div>
    </div>
  </div>`;
}

function Channel({ ch }) {
  const v = view(ch);
  const info = S.channels.find((c) => c.channel_id === ch) || {};
  const name = (v.info && v.info.channel_name) || info.channel_name || ch;
  // Files dropped anywhere on the channel are uploads to it, for the recipients chosen below.
  const dragging = (e) => { if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) e.preventDefault(); };
  const onDrop = (e) => {
    const files = e.dataTransfer ? [...e.dataTransfer.files] : [];
    if (!files.length) return;
    e.preventDefault();
    const to = e.currentTarget.querySelector(".composer select");
    for (const f of files) sendFile(ch, f, v.characters.length && to ? to.value : "service");
  };
  return html`<section class="main" aria-label=${"Channel " + name} onDragOver=${dragging} onDrop=${onDrop}>
    <header class="chan-head">
      <button class="back" onClick=${closeChannel} aria-label="All channels">‹</button>
      <h2>${name}</h2>
      <button onClick=${() => leave(ch)}>Leave</button>
    </header>
    ${v.characters.length > 0 && html`<ul class="people" aria-label="People">
      ${v.characters.map((c) => html`<li key=${c.id}><${Avatar} id=${c.id} /><span>${c.name}</span></li>`)}
    </ul>`}
    ${v.style.canvas && v.canvas.length > 0 && html`<section class=${"canvas" + (v.style.expand ? " expand" : "")} aria-label="Canvas">
      ${v.canvas.map((it, i) => html`<figure key=${i}>
        ${safeUrl(it.path) && html`<img src=${safeUrl(it.path)} alt="" />`}
        ${it.text && html`<figcaption>${str(it.text)}</figcaption>`}
      </figure>`)}
    </section>`}
    <${Log} ch=${ch} v=${v} />
    ${v.buttons.length > 0 && html`<div class="buttons" aria-label="Service buttons" role="group">
      ${v.buttons.map((b) => html`<button type="button" key=${b.button_id} class=${v.highlight.has(b.button_id) ? "highlight" : ""}
        onClick=${() => (b.dialog ? openDialog(b.dialog, str(b.button_text), (bb, args) => click(ch, b, bb, args)) : click(ch, b, "confirm", []))}>${str(b.button_text)}</button>`)}
    </div>`}
    <${Composer} ch=${ch} v=${v} key=${ch} />
  </section>`;
}

function App() {
  const [, tick] = useState(0);
  useEffect(() => { redraw = () => tick((n) => n + 1); }, []);
  if (!S.session || !S.me) return html`<${SignIn} />`;
  return html`<div class=${"app" + (S.open || S.popular ? " has-main" : "")}>
    <header class="top">
      <h1>Relay</h1>
      <span class="me">${S.me.name}</span>
      <button onClick=${signOut}>Sign out</button>
    </header>
    <${Banner} />
    ${S.error && html`<p role="alert" class="error">${S.error} <button onClick=${() => set({ error: null })}>Dismiss</button></p>`}
    <div class="body">
      <${Sidebar} />
      ${S.open ? html`<${Channel} ch=${S.open} key=${S.open} />` : S.popular ? html`<${Browse} />` : html`<section class="main empty"><p class="muted">Choose a channel.</p></section>`}
    </div>
    ${S.menu && html`<${Menu} key=${S.menu.message.id} />`}
    ${S.dialog && html`<${Dialog} />`}
  </div>`;
}

render(html`<${App} />`, document.getElementById("root"));
if (S.session) startSession().then(() => redraw());
