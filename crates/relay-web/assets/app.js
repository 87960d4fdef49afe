// Relay's web page for people in channels. Preact + htm (vendored); every piece of text that comes
// from the server, a service or another user is rendered as text, never as markup.
import { html, render, useState, useEffect, useRef } from "./vendor/preact-htm.js";
import { Api, Conn, loadSession, saveSession } from "./proto.js";

// ---- state (one store; the root re-renders on every change) ----
const S = {
  session: loadSession(),
  me: null,            // {user_id, name}
  conn: "offline",     // connecting | online | reconnecting | superseded
  channels: [],        // [{channel_id, channel_name}]
  popular: null,       // null = not browsing
  open: null,          // channel id
  views: {},           // channel id -> view
  profiles: {},        // character id -> {id, name, avatar}
  dialog: null,        // {button, channel}
  error: null,
};
let redraw = () => {};
const set = (patch) => { Object.assign(S, patch); redraw(); };

function view(ch) {
  if (!S.views[ch]) {
    S.views[ch] = { messages: new Map(), pending: [], characters: [], buttons: [], canvas: [], style: {},
      highlight: new Set(), from: null, epoch: null, info: null };
  }
  return S.views[ch];
}

const api = new Api(S.session, (s) => { S.session = s; saveSession(s); });
let conn = null;

// ---- session ----
async function startSession() {
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
  loadChannels();
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
  Object.assign(S, { session: null, me: null, channels: [], popular: null, open: null, views: {}, conn: "offline", dialog: null });
  redraw();
}

async function loadChannels() {
  try {
    const list = await api.channels();
    set({ channels: (list || []).map(normChannel) });
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
}

function noteResume(v, r) {
  if (!r.ok) return;
  if (typeof r.ctx.next_offset === "number") v.from = Math.max(v.from ?? 0, r.ctx.next_offset);
  if (r.ctx.epoch !== undefined) v.epoch = r.ctx.epoch;
}

async function openChannel(ch) {
  set({ open: ch, popular: null });
  const v = view(ch);
  if (conn && conn.state === "online") {
    if (v.from === null) noteResume(v, await conn.resume(ch));
    conn.action("refresh", ch);
  }
  try {
    const hist = await api.history(ch, 50);
    for (const m of hist || []) addMessage(m.body || m, null, null);
    needProfiles([...v.messages.values()].map((m) => m.sender));
    redraw();
  } catch { /* history is a nicety */ }
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
  if (S.open === ch) S.open = null;
  await loadChannels();
}

async function browse() {
  try {
    const list = await api.popular();
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
      case "canvas": v.canvas = Array.isArray(b.content) ? b.content : []; break;
      case "style": applyStyle(v, Array.isArray(b.content) ? b.content : []); break;
      case "channel_info": v.info = b.content || null; break;
    }
    redraw();
  }
}

function addMessage(b, offset, epoch) {
  if (!b.channel_id || !b.message_id) return;
  const v = view(b.channel_id);
  if (typeof offset === "number") {
    v.from = Math.max(v.from ?? 0, offset + 1);
    if (epoch !== undefined) v.epoch = epoch;
  }
  if (v.messages.has(b.message_id)) return;
  v.messages.set(b.message_id, { id: b.message_id, sender: b.sender, subtype: b.subtype,
    content: b.content || {}, timestamp: b.timestamp || Date.now(), offset });
  // The service's echo of one of my messages replaces its pending bubble.
  if (b.sender === (S.me && S.me.user_id) && b.subtype === "text") {
    const i = v.pending.findIndex((p) => p.text === (b.content || {}).text);
    if (i >= 0) v.pending.splice(i, 1);
  }
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

async function sendText(ch, text, to) {
  const v = view(ch);
  const p = { key: Math.random(), text, state: "sending" };
  v.pending.push(p);
  redraw();
  let recipients = "service";
  try {
    if (to === "all") recipients = await api.createGroup(ch, v.characters.map((c) => c.id));
    else if (to !== "service") recipients = await api.createGroup(ch, [to]);
  } catch (e) { p.state = "failed"; p.error = e.message; redraw(); return; }
  const r = await conn.messageUp(ch, recipients, "text", { text });
  p.state = r.ok ? "sent" : "failed";
  if (!r.ok) p.error = r.ctx.message || "not sent";
  // A sent bubble stays until the service echoes it back (or for a while if it never does).
  if (r.ok) setTimeout(() => { const i = v.pending.indexOf(p); if (i >= 0) { v.pending.splice(i, 1); redraw(); } }, 15000);
  redraw();
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
      <input id="email" type="email" autocomplete="username" required value=${email} onInput=${(e) => setEmail(e.target.value)} />
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
          onClick=${() => openChannel(c.channel_id)}>${c.channel_name}</button>
      </li>`)}
    </ul>
    ${!S.channels.length && html`<p class="muted">No channels yet.</p>`}
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

function Content({ m }) {
  const c = m.content || {};
  const url = safeUrl(c.path);
  switch (m.subtype) {
    case "image": return url ? html`<img class="msg-img" src=${url} alt=${str(c.filename) || "image"} />` : html`<span>${str(c.text)}</span>`;
    case "audio": return url ? html`<audio controls src=${url}></audio>` : null;
    case "file": return url ? html`<a href=${url} download=${str(c.filename)} rel="noopener">${str(c.filename) || "file"}</a>` : null;
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

function Log({ v }) {
  const ref = useRef(null);
  const msgs = [...v.messages.values()].sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0) || a.timestamp - b.timestamp);
  useEffect(() => { if (ref.current) ref.current.scrollTop = ref.current.scrollHeight; });
  return html`<div class="log" role="log" aria-label="Messages" ref=${ref} tabindex="0">
    ${msgs.map((m) => {
      const p = S.profiles[m.sender];
      const t = new Date(m.timestamp);
      return html`<article class=${"msg" + (m.sender === S.me.user_id ? " mine" : "")} key=${m.id}>
        <${Avatar} id=${m.sender} />
        <div class="bubble">
          <div class="meta"><span class="sender">${(p && p.name) || str(m.sender)}</span>
            <time datetime=${t.toISOString()}>${t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</time></div>
          <${Content} m=${m} />
        </div>
      </article>`;
    })}
    ${v.pending.map((p) => html`<article class="msg mine pending" key=${p.key}>
      <div class="bubble"><span class="text">${p.text}</span>
        <span class="state">${p.state === "sending" ? "sending…" : p.state === "sent" ? "✓ sent to the service" : "not sent: " + str(p.error)}</span></div>
    </article>`)}
  </div>`;
}

function Composer({ ch, v }) {
  const [text, setText] = useState("");
  const [to, setTo] = useState("all");
  const send = () => {
    const t = text.trim();
    if (!t) return;
    sendText(ch, t, v.characters.length ? to : "service");
    setText("");
  };
  const onKey = (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  };
  return html`<form class="composer" onSubmit=${(e) => { e.preventDefault(); send(); }}>
    <label class="to">To
      <select value=${to} onChange=${(e) => setTo(e.target.value)}>
        <option value="all">Everyone</option>
        <option value="service">The service</option>
        ${v.characters.filter((c) => c.id !== S.me.user_id).map((c) => html`<option value=${c.id} key=${c.id}>${c.name}</option>`)}
      </select>
    </label>
    <textarea aria-label="Message" rows="2" value=${text} onInput=${(e) => setText(e.target.value)} onKeyDown=${onKey}
      placeholder="Message (Enter sends, Shift+Enter new line)"></textarea>
    <button type="submit">Send</button>
  </form>`;
}

function Dialog() {
  const { button, channel } = S.dialog;
  const d = button.dialog || {};
  const comps = Array.isArray(d.components) ? d.components : [];
  const bottoms = Array.isArray(d.bottom_buttons) && d.bottom_buttons.length ? d.bottom_buttons : [{ id: "confirm", text: "Confirm", submit: true }];
  const [vals, setVals] = useState(() => comps.map(() => ""));
  const [err, setErr] = useState(null);
  const box = useRef(null);
  useEffect(() => {
    const first = box.current && box.current.querySelector("input,select,textarea,button");
    if (first) first.focus();
  }, []);
  const close = () => set({ dialog: null });
  const press = (bb) => {
    if (!bb.submit) { close(); return; }
    const missing = comps.findIndex((c, i) => c.required && !vals[i]);
    if (missing >= 0) { setErr(`${str(comps[missing].label)} is required.`); return; }
    click(channel, button, str(bb.id), comps.map((c, i) => ({ label: str(c.label), value: vals[i] })));
    close();
  };
  const onKey = (e) => {
    if (e.key === "Escape") { e.preventDefault(); close(); }
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
      <h2 id="dlg-title">${str(d.title) || str(button.button_text)}</h2>
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
  return html`<section class="main" aria-label=${"Channel " + name}>
    <header class="chan-head">
      <button class="back" onClick=${() => set({ open: null })} aria-label="All channels">‹</button>
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
    <${Log} v=${v} />
    ${v.buttons.length > 0 && html`<div class="buttons" aria-label="Service buttons" role="group">
      ${v.buttons.map((b) => html`<button type="button" key=${b.button_id} class=${v.highlight.has(b.button_id) ? "highlight" : ""}
        onClick=${() => (b.dialog ? set({ dialog: { button: b, channel: ch } }) : click(ch, b, "confirm", []))}>${str(b.button_text)}</button>`)}
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
    ${S.dialog && html`<${Dialog} />`}
  </div>`;
}

render(html`<${App} />`, document.getElementById("root"));
if (S.session) startSession().then(() => redraw());
