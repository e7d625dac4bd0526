// A scripted stand-in for the browser's WebSocket: records what the client sends;
// `push` delivers a server message.
class FakeSocket {
  static OPEN = 1;
  static all = [];
  constructor(url) {
    this.url = url; this.sent = []; this.readyState = 0; FakeSocket.all.push(this);
    setTimeout(() => { this.readyState = 1; this.onopen && this.onopen(); }, 0);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; setTimeout(() => this.onclose && this.onclose({}), 0); }
  push(message) { this.onmessage({ data: JSON.stringify(message) }); }
}
window.WebSocket = FakeSocket;
window.FakeSocket = FakeSocket;
