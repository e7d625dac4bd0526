// A subscription answered `unavailable` twice, then served: tickstream.js asks again
// by itself (checked in test_client_js.py).
(async () => {
  const { TickstreamClient } = await import("/static/tickstream/tickstream.js");
  const until = async (check) => { for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10)); };
  const client = new TickstreamClient("ws://test/ws/v1/", { backoff: { initialMs: 20, maxMs: 80, factor: 2 } });
  const errors = [], events = [];
  client.onerror = (m) => errors.push(m.code);
  client.subscribe(["ticker:AAPL"], (e) => events.push([e.kind, e.seq]));
  await until(() => client.state === "live" && FakeSocket.all[0].sent.length === 1);
  const ws = FakeSocket.all[0];
  const refuse = () => {
    const last = ws.sent[ws.sent.length - 1];
    ws.push({ type: "error", id: last.id, code: "unavailable", message: "starting" });
  };
  refuse();
  await until(() => ws.sent.length === 2);
  refuse();
  await until(() => ws.sent.length === 3);
  const last = ws.sent[2];
  ws.push([{ type: "subscribed", id: last.id, channels: ["ticker:AAPL"] },
           { type: "snapshot", channel: "ticker:AAPL", epoch: 1, seq: 5, reset: false, data: { last: "1" } }]);
  await new Promise((r) => setTimeout(r, 200));
  return { sent: ws.sent, errors, events, synced: client.synced("ticker:AAPL"),
           unavailable: client.stats.unavailable, sockets: FakeSocket.all.length };
})();
