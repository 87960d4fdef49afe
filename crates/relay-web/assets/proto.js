// The user side of the Moobius channel protocol, as the SDK's user mode speaks it: the HTTP API
// (sign in, refresh, channels, groups, profiles, history) and the WebSocket (/ws) with its
// in-band login, heartbeat, resume and reconnect.

const STORE = "relay.session";

export function loadSession() {
  try { return JSON.parse(localStorage.getItem(STORE)) || null; } catch { return null; }
}
export function saveSession(s) {
  if (s) localStorage.setItem(STORE, JSON.stringify(s)); else localStorage.removeItem(STORE);
}

export class ApiError extends Error {}

function uuid() {
  return crypto.randomUUID ? crypto.randomUUID() :
    "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx".replace(/x/g, () => (Math.random() * 16 | 0).toString(16));
}

export class Api {
  constructor(session, onSession) { this.session = session; this.onSession = onSession; }

  async raw(method, path, body, auth = true) {
    const headers = { "Content-Type": "application/json" };
    if (auth && this.session) {
      headers["Authorization"] = "Bearer " + this.session.access;
      headers["Auth-Origin"] = "cognito";
    }
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      const err = new ApiError("The server cannot be reached.");
      err.offline = true;
      throw err;
    }
    let j = null;
    try { j = await res.json(); } catch { /* not JSON */ }
    if (!j || typeof j !== "object") throw new ApiError(`The server answered ${res.status}.`);
    return j;
  }

  // A call with the access token; on a refused token, one refresh and one retry.
  async call(method, path, body) {
    let j = await this.raw(method, path, body);
    if (j.code !== 10000 && j.code !== 204 && this.session && await this.refresh()) {
      j = await this.raw(method, path, body);
    }
    if (j.code !== 10000 && j.code !== 204) throw new ApiError(j.message || `error ${j.code}`);
    return j.data;
  }

  async signIn(username, password) {
    const j = await this.raw("POST", "/auth/sign_in", { username, password }, false);
    const r = j.data && j.data.AuthenticationResult;
    if (j.code !== 10000 || !r) throw new ApiError(j.message || "Sign-in failed.");
    this.session = { username, access: r.AccessToken, refresh: r.RefreshToken };
    this.onSession(this.session);
  }

  // One refresh at a time: calls made in parallel with a stale token share it.
  refresh() {
    if (!this.refreshing) this.refreshing = this.doRefresh().finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  async doRefresh() {
    const s = this.session;
    if (!s || !s.refresh) return false;
    try {
      const j = await this.raw("POST", "/auth/refresh", { username: s.username, refresh_token: s.refresh }, false);
      const r = j.data && j.data.AuthenticationResult;
      if (j.code !== 10000 || !r || !r.AccessToken) return false;
      this.session = { ...s, access: r.AccessToken, refresh: r.RefreshToken || s.refresh };
      this.onSession(this.session);
      return true;
    } catch { return false; }
  }

  async signOut() {
    if (this.session) {
      try { await this.raw("POST", "/auth/sign_out", { access_token: this.session.access }); } catch { /* gone anyway */ }
    }
    this.session = null;
    this.onSession(null);
  }

  userInfo() { return this.call("GET", "/user/info"); }
  channels() { return this.call("GET", "/channel/list"); }
  popular() { return this.call("GET", "/channel/popular"); }
  // Newest first; `before` a message id (older ones only) or null (the newest).
  history(channel, limit, before) {
    const b = before === null || before === undefined ? "null" : encodeURIComponent(before);
    return this.call("GET", `/channel/history_message?channel_id=${encodeURIComponent(channel)}&limit=${limit}&before=${b}`);
  }
  async group(groupId, channel) {
    const d = await this.call("GET", `/user/group?group_id=${encodeURIComponent(groupId)}&channel_id=${encodeURIComponent(channel)}`);
    return (d && d.characters) || [];
  }
  async createGroup(channel, ids) {
    const d = await this.call("POST", "/user/group/create", { channel_id: channel, group_name: "A_message_up_group", characters: ids });
    return d.group_id;
  }
  // The SDK's upload flow: a ticket (an upload URL and form fields), then an unauthenticated
  // multipart POST of those fields and the file; the file's URL is the upload URL + key.
  // The ticket names the server as the request's Host saw it; when that is this page's host
  // the POST goes to this origin as it is, so an https page never posts to an http URL.
  async upload(file) {
    const m = /\.([A-Za-z0-9]{1,16})$/.exec(file.name || "");
    const t = await this.call("GET", `/file/upload?extension=${m ? m[1].toLowerCase() : ""}`);
    if (!t || typeof t.url !== "string" || !t.fields || typeof t.fields.key !== "string") throw new ApiError("The server gave no upload ticket.");
    let url = t.url;
    try {
      const u = new URL(t.url, location.href);
      if (u.host === location.host) url = location.origin + u.pathname;
    } catch { /* keep it as given */ }
    const form = new FormData();
    for (const [k, v] of Object.entries(t.fields)) form.append(k, String(v));
    form.append("file", file, "file");
    let res;
    try { res = await fetch(url, { method: "POST", body: form }); } catch { throw new ApiError("The upload could not reach the server."); }
    if (!res.ok) {
      let msg = `The upload failed (${res.status}).`;
      try { const j = await res.json(); if (j && j.message) msg = j.message; } catch { /* not JSON */ }
      throw new ApiError(msg);
    }
    return url + t.fields.key;
  }

  async profiles(ids) {
    if (!ids.length) return [];
    const d = await this.call("POST", "/character/fetch_profile", { character_list: ids });
    return (d || []).map((c) => ({
      id: c.character_id,
      name: (c.character_context && c.character_context.name) || c.character_id,
      avatar: c.character_context && c.character_context.avatar,
    }));
  }
}

// The server closes a socket on a frame over 1 MiB; a little is kept for what it adds on delivery.
const MAX_FRAME = 1024 * 1024 - 4096;
const TOO_BIG = "too large to send (the server takes up to 1 MiB)";

// The socket: logs in on every connect, sends a heartbeat every 30 s, reconnects with a backoff
// while the server is away, and tells the page its state ("connecting", "online",
// "reconnecting", "superseded").
export class Conn {
  constructor(api, handlers) {
    this.api = api;
    this.h = handlers; // {onState(state), onFrame(frame), onLogin()}
    this.pending = new Map();
    this.ws = null;
    this.stopped = false;
    this.delay = 250;
    this.state = "connecting";
  }

  start() { this.stopped = false; this.connect(); }

  stop() {
    this.stopped = true;
    clearInterval(this.beat);
    clearTimeout(this.retry);
    if (this.ws) { this.ws.onclose = null; this.ws.close(1000); this.ws = null; }
  }

  setState(s) { if (this.state !== s) { this.state = s; this.h.onState(s); } }

  connect() {
    clearTimeout(this.retry);
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    let ws;
    try { ws = new WebSocket(url); } catch { this.later(); return; }
    this.ws = ws;
    ws.onopen = () => {
      this.send({ type: "user_login", auth_origin: "cognito", access_token: this.api.session.access }, (ok) => {
        if (ok) { this.delay = 250; this.setState("online"); this.h.onLogin(); }
        else {
          // A refused token: refresh it and log in on the next socket (the server closes this one).
          this.api.refresh().then((r) => { if (!r) this.h.onSignedOut(); });
        }
      });
      clearInterval(this.beat);
      this.beat = setInterval(() => this.send({ type: "heartbeat", body: {} }), 30000);
    };
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      if (f.type === "copy" && f.body) {
        const cb = this.pending.get(f.body.request_id);
        if (cb) { this.pending.delete(f.body.request_id); cb(f.body.status === true, f.body.context || {}); }
        return;
      }
      this.h.onFrame(f);
    };
    ws.onclose = (ev) => {
      clearInterval(this.beat);
      if (this.ws !== ws) return;
      this.ws = null;
      // 1009: the server closed on a frame too big; sending it again would only do the same.
      const lost = ev.code === 1009 ? { message: TOO_BIG } : { message: "connection lost", offline: true };
      for (const cb of this.pending.values()) cb(false, lost);
      this.pending.clear();
      if (this.stopped) return;
      if (ev.code === 1000 && /superseded/.test(ev.reason || "")) { this.setState("superseded"); return; }
      this.setState("reconnecting");
      this.later();
    };
  }

  later() {
    if (this.stopped) return;
    this.retry = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, 4000);
  }

  // Sends one frame with a fresh request id; `cb(status, context)` gets its copy.
  send(frame, cb) {
    const request_id = uuid();
    const f = { ...frame, request_id };
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) { if (cb) cb(false, { message: "not connected", offline: true }); return false; }
    const text = JSON.stringify(f);
    if (text.length > MAX_FRAME / 3 && new TextEncoder().encode(text).length > MAX_FRAME) {
      if (cb) cb(false, { message: TOO_BIG });
      return false;
    }
    if (cb) this.pending.set(request_id, cb);
    this.ws.send(text);
    return true;
  }

  action(subtype, channel_id, extra = {}) {
    return new Promise((resolve) => this.send(
      { type: "action", body: { subtype, channel_id, ...extra, context: {} } },
      (ok, ctx) => resolve({ ok, ctx })));
  }

  resume(channel_id, from, epoch) {
    const body = { channel_id };
    if (from !== undefined && from !== null) body.from = from;
    if (epoch !== undefined && epoch !== null) body.epoch = epoch;
    return new Promise((resolve) => this.send({ type: "resume", body }, (ok, ctx) => resolve({ ok, ctx })));
  }

  messageUp(channel_id, recipients, subtype, content) {
    return new Promise((resolve) => this.send({
      type: "message_up",
      body: { subtype, channel_id, content, recipients, timestamp: Date.now(), context: {} },
    }, (ok, ctx) => resolve({ ok, ctx })));
  }
}
