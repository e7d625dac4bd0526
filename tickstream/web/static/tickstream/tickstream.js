// tickstream.js: the browser client of tickstream's websocket protocol v1 (docs/protocol.md).
//
//   import { TickstreamClient } from "/static/tickstream/tickstream.js";
//   const client = new TickstreamClient();             // ws(s)://<this host>/ws/v1/
//   client.onstate = (state) => badge.textContent = state;  // live | reconnecting | offline
//   const stop = client.subscribe(["ticker:AAPL", "candles:AAPL:1m"], (event) => {
//     // event: {channel, kind: "snapshot" | "update", data, seq, reset, late}
//   });
//   stop();                                            // unsubscribe
//
// The client keeps each channel's `seq` and `epoch`. On a gap (a missed trade, a `gap`
// notice) it asks for the channel again and gets the missed updates or a fresh snapshot. On
// a lost connection it reconnects with capped, jittered exponential backoff and resumes
// every channel with `since`: the server sends what was missed, or a snapshot marked
// `reset` when it no longer has it. A subscription answered `unavailable` (the market
// pipeline is still starting, or the broker is down) is asked for again with the same
// backoff until it is served; its snapshot then comes with `late: true`, so a page can
// read again what it read from the REST API while the pipeline was not serving. No gap goes unnoticed: `client.synced(channel)` says
// whether a channel's state is complete. A socket closed with 4401 (signed out: a logout,
// a password change, a new API token) is not reopened; the state reads "signed-out".
//
// `ReconnectingSocket` gives the same reconnection to the endpoints kept from the
// tutorials; `coalesce` runs DOM work at most once per animation frame.

const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 15000, factor: 2 };
const OFFLINE_AFTER = 4; // failed attempts in a row before the state reads "offline"
const CLOSE_SIGNED_OUT = 4401; // the server revoked what signed the socket in

export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/** Delay before reconnection attempt `attempt` (0-based): capped exponential, full jitter
 * in its upper half so that many clients restarting together spread out. */
export function backoffDelay(attempt, { initialMs, maxMs, factor } = DEFAULT_BACKOFF, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * factor ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A websocket that reconnects by itself. `onopen(socket)` runs after every (re)connect. */
export class ReconnectingSocket {
  constructor(url, { onopen, onmessage, onstate, backoff = DEFAULT_BACKOFF, watchdogMs = 0 } = {}) {
    this.url = url;
    this.onopen = onopen || (() => {});
    this.onmessage = onmessage || (() => {});
    this.onstate = onstate || (() => {});
    this.backoff = backoff;
    this.watchdogMs = watchdogMs; // reconnect when nothing arrived for this long (0: never)
    this.state = "connecting";
    this.attempt = 0;
    this.reconnects = 0;
    this.closed = false;
    this.socket = null;
    this._timer = null;
    this._watchdog = null;
    addEventListener("online", () => this._retryNow());
    this._connect();
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onstate(state);
  }

  _connect() {
    clearTimeout(this._timer);
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this._scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.attempt > 0 || this.reconnects > 0) this.reconnects += 1;
      this.attempt = 0;
      this._setState("live");
      this._touch();
      this.onopen(socket);
    };
    socket.onmessage = (event) => {
      this._touch();
      this.onmessage(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearTimeout(this._watchdog);
      if (event && event.code === CLOSE_SIGNED_OUT) {
        // What signed this page in was revoked (logout, password change, a new token):
        // coming back would be as someone else, so it stays closed until a reload.
        this.closed = true;
        this._setState("signed-out");
        return;
      }
      if (!this.closed) this._scheduleReconnect();
    };
    socket.onerror = () => {}; // onclose follows
  }

  _scheduleReconnect() {
    const offline = this.attempt >= OFFLINE_AFTER || navigator.onLine === false;
    this._setState(offline ? "offline" : "reconnecting");
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this._timer = setTimeout(() => this._connect(), delay);
  }

  _retryNow() {
    if (this.closed || this.socket) return;
    this.attempt = 0;
    this._connect();
  }

  _touch() {
    if (!this.watchdogMs) return;
    clearTimeout(this._watchdog);
    this._watchdog = setTimeout(() => this.socket && this.socket.close(), this.watchdogMs);
  }

  send(data) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(typeof data === "string" ? data : JSON.stringify(data));
      return true;
    }
    return false; // sent again by onopen after the reconnection
  }

  close() {
    this.closed = true;
    clearTimeout(this._timer);
    clearTimeout(this._watchdog);
    if (this.socket) this.socket.close();
    this._setState("offline");
  }
}

/** The protocol v1 client. */
export class TickstreamClient {
  constructor(url = socketUrl("/ws/v1/"), { backoff = DEFAULT_BACKOFF } = {}) {
    this.channels = new Map(); // name -> {seq, epoch, data, synced, handlers:Set}
    this.onstate = () => {};
    this.onerror = (message) => console.warn("tickstream:", message.code, message.message);
    this.stats = { snapshots: 0, resets: 0, updates: 0, stale: 0, gaps: 0, resyncs: 0, unavailable: 0 };
    this.user = null;
    this.flushMs = null;
    this._nextId = 1;
    this._requests = new Map(); // id -> {resolve, reject, timer}: ops an app registered
    this._subscribing = new Map(); // id -> channel names of a subscribe not yet answered
    this._unserved = new Set(); // channels answered `unavailable`, asked again after a delay
    this._retryAttempt = 0;
    this._retryTimer = null;
    this._backoff = backoff;
    this.socket = new ReconnectingSocket(url, {
      backoff,
      watchdogMs: 40000, // three heartbeats (15 s) missed: the connection is dead
      onopen: () => this._resume(),
      onmessage: (raw) => this._receive(raw),
      onstate: (state) => {
        if (state !== "live") for (const ch of this.channels.values()) ch.synced = false;
        this.onstate(state);
      },
    });
  }

  get state() {
    return this.socket.state;
  }

  /** Follow channels; `handler({channel, kind, data, seq, reset})` gets the snapshot, then
   * every update. Returns a function that stops following them. */
  subscribe(names, handler) {
    const fresh = [];
    for (const name of names) {
      let ch = this.channels.get(name);
      if (!ch) {
        ch = { seq: null, epoch: null, data: undefined, synced: false, handlers: new Set() };
        this.channels.set(name, ch);
        fresh.push(name);
      } else if (ch.data !== undefined && handler) {
        handler({ channel: name, kind: "snapshot", data: ch.data, seq: ch.seq, reset: false });
      }
      if (handler) ch.handlers.add(handler);
    }
    if (fresh.length) this._subscribe(fresh);
    return () => this.unsubscribe(names, handler);
  }

  unsubscribe(names, handler) {
    const gone = [];
    for (const name of names) {
      const ch = this.channels.get(name);
      if (!ch) continue;
      if (handler) ch.handlers.delete(handler);
      if (!handler || ch.handlers.size === 0) {
        this.channels.delete(name);
        gone.push(name);
      }
    }
    if (gone.length) this._send({ op: "unsubscribe", id: this._nextId++, channels: gone });
  }

  /** An operation an app serves (`order.place`, `order.cancel`): resolves with the
   * `result` frame's data, rejects with an Error carrying the `error` frame's `code`. Not
   * sent again after a reconnection (an order must not be placed twice): a request whose
   * socket is down is refused at once with code `offline`. */
  request(op, fields = {}, { timeoutMs = 10000 } = {}) {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const fail = (code, message) => reject(Object.assign(new Error(message), { code }));
      if (!this._send({ ...fields, op, id })) {
        fail("offline", "not connected: try again in a moment");
        return;
      }
      const timer = setTimeout(() => {
        this._requests.delete(id);
        fail("timeout", "no answer from the server");
      }, timeoutMs);
      this._requests.set(id, { resolve, fail, timer });
    });
  }

  _answer(id, ok, m) {
    const pending = this._requests.get(id);
    if (!pending) return false;
    this._requests.delete(id);
    clearTimeout(pending.timer);
    if (ok) pending.resolve(m.data);
    else pending.fail(m.code, m.message);
    return true;
  }

  /** Whether a channel's local state is complete (snapshot received, no gap pending). */
  synced(name) {
    const ch = this.channels.get(name);
    return Boolean(ch && ch.synced);
  }

  _send(message) {
    return this.socket.send(message);
  }

  /** After every (re)connect: ask again for every channel, from where each one stopped. */
  _resume() {
    const names = [...this.channels.keys()];
    if (!names.length) return;
    const since = {};
    let epoch = null;
    for (const [name, ch] of this.channels) {
      if (ch.seq !== null) since[name] = ch.seq;
      if (ch.epoch !== null) epoch = ch.epoch;
    }
    const request = {};
    if (Object.keys(since).length) request.since = since;
    if (epoch !== null) request.epoch = epoch;
    this._subscribing.clear(); // the old socket's requests are answered no more
    this._subscribe(names, request);
  }

  /** Send a subscribe and remember its channels until it is answered. */
  _subscribe(names, extra = {}) {
    const id = this._nextId++;
    this._subscribing.set(id, names);
    this._send({ op: "subscribe", id, channels: names, ...extra });
  }

  /** A subscribe answered `unavailable`: ask again for its channels after a backoff delay
   * (the pipeline may still be starting); the attempts reset once a channel is served. */
  _unavailable(names) {
    for (const name of names) {
      const ch = this.channels.get(name);
      if (!ch) continue;
      ch.late = true; // its snapshot will say so: what the page read meanwhile may be thin
      this._unserved.add(name);
    }
    if (this._retryTimer || !this._unserved.size) return;
    const delay = backoffDelay(this._retryAttempt, this._backoff);
    this._retryAttempt += 1;
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      const again = [...this._unserved].filter((name) => this.channels.has(name));
      this._unserved.clear();
      if (!again.length) return;
      const since = {};
      let epoch = null;
      for (const name of again) {
        const ch = this.channels.get(name);
        if (ch.seq !== null) since[name] = ch.seq;
        if (ch.epoch !== null) epoch = ch.epoch;
      }
      const extra = {};
      if (Object.keys(since).length) extra.since = since;
      if (epoch !== null) extra.epoch = epoch;
      if (this.state === "live") this._subscribe(again, extra);
      // not live: the reconnection's resume asks for every channel anyway
    }, delay);
  }

  /** A gap in one channel: drop it on the server and ask again from the last applied seq. */
  _resync(name) {
    const ch = this.channels.get(name);
    if (!ch) return;
    ch.synced = false;
    this.stats.resyncs += 1;
    this._send({ op: "unsubscribe", id: this._nextId++, channels: [name] });
    const request = {};
    if (ch.seq !== null) request.since = { [name]: ch.seq };
    if (ch.epoch !== null) request.epoch = ch.epoch;
    this._subscribe([name], request);
  }

  _receive(raw) {
    let parsed;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      console.warn("tickstream: a frame that is not JSON", error);
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) this._handle(message);
  }

  _handle(m) {
    switch (m.type) {
      case "welcome":
        this.user = m.user;
        this.flushMs = m.flush_ms;
        return;
      case "snapshot": {
        const ch = this.channels.get(m.channel);
        if (!ch) return;
        ch.seq = m.seq;
        ch.epoch = m.epoch ?? ch.epoch;
        ch.data = m.data;
        ch.synced = true;
        this._retryAttempt = 0;
        this.stats.snapshots += 1;
        if (m.reset) this.stats.resets += 1;
        const late = Boolean(ch.late);
        ch.late = false;
        this._emit(m.channel, ch, { kind: "snapshot", data: m.data, seq: m.seq, reset: Boolean(m.reset), late });
        return;
      }
      case "update": {
        const ch = this.channels.get(m.channel);
        if (!ch || ch.seq === null) return; // before its snapshot: the snapshot covers it
        if (m.seq <= ch.seq) {
          this.stats.stale += 1;
          return;
        }
        if (m.channel.startsWith("trades:") && m.seq > ch.seq + 1) {
          this.stats.gaps += 1;
          this._resync(m.channel);
          return;
        }
        ch.seq = m.seq;
        ch.data = m.data;
        this.stats.updates += 1;
        this._emit(m.channel, ch, { kind: "update", data: m.data, seq: m.seq, reset: false });
        return;
      }
      case "gap":
        this.stats.gaps += 1;
        this._resync(m.channel);
        return;
      case "subscribed":
        this._subscribing.delete(m.id);
        // A resume: the server sends what was missed (or a reset snapshot) right after this
        // answer, in the same frame, so the channel is whole again (a gap resyncs it).
        for (const name of m.channels || []) {
          const ch = this.channels.get(name);
          if (ch && ch.seq !== null) ch.synced = true;
        }
        return;
      case "result":
        this._answer(m.id, true, m);
        return;
      case "error": {
        if (this._answer(m.id, false, m)) return;
        const names = this._subscribing.get(m.id);
        this._subscribing.delete(m.id);
        if (names && m.code === "unavailable") {
          this.stats.unavailable += 1;
          this._unavailable(names); // served later: not an error the page must handle
          return;
        }
        this.onerror(m);
        return;
      }
      default: // unsubscribed, pong, heartbeat
        return;
    }
  }

  _emit(name, ch, event) {
    event.channel = name;
    for (const handler of ch.handlers) {
      try {
        handler(event);
      } catch (error) {
        console.error("tickstream: a channel handler failed", error);
      }
    }
  }
}

/** Run `fn` for `key` at the next animation frame, once however often it is asked for: the
 * latest `fn` wins. Keeps DOM work at the display's rate whatever the update rate. */
const pending = new Map();
let frameRequested = false;
export function coalesce(key, fn) {
  pending.set(key, fn);
  if (frameRequested) return;
  frameRequested = true;
  const run = () => {
    frameRequested = false;
    const jobs = [...pending.values()];
    pending.clear();
    for (const job of jobs) {
      try {
        job();
      } catch (error) {
        console.error("tickstream: a render job failed", error);
      }
    }
  };
  // Hidden tabs get no animation frames: fall back to a timer so state stays current.
  if (document.hidden) setTimeout(run, 250);
  else requestAnimationFrame(run);
}
