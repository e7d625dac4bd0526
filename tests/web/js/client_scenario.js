// Drives tickstream.js through snapshots, a repeat, a gap, a reconnection and a reset;
// returns what it saw (checked in test_client_js.py).
(async () => {
  const { TickstreamClient } = await import("/static/tickstream/tickstream.js");
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const until = async (check) => { for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10)); };
  const out = {};
  const events = [];
  const states = [];
  const client = new TickstreamClient("ws://test/ws/v1/", { backoff: { initialMs: 10, maxMs: 40, factor: 2 } });
  client.onstate = (s) => states.push(s);
  client.subscribe(["trades:AAPL", "ticker:AAPL"], (e) => events.push([e.channel, e.kind, e.seq, e.reset]));
  await until(() => client.state === "live");
  let ws = FakeSocket.all[0];
  await tick();
  out.firstRequests = ws.sent.slice();
  ws.push([
    { type: "subscribed", id: 1, channels: ["trades:AAPL", "ticker:AAPL"] },
    { type: "snapshot", channel: "trades:AAPL", epoch: 7, seq: 10, reset: false, data: [] },
    { type: "snapshot", channel: "ticker:AAPL", epoch: 7, seq: 10, reset: false, data: { last: "1" } },
  ]);
  ws.push({ type: "update", channel: "trades:AAPL", seq: 11, data: {} });
  ws.push({ type: "update", channel: "trades:AAPL", seq: 11, data: {} });   // a repeat: ignored
  ws.push({ type: "update", channel: "ticker:AAPL", seq: 13, data: { last: "2" } }); // conflated: fine
  out.syncedBeforeGap = client.synced("trades:AAPL");
  ws.sent.length = 0;
  ws.push({ type: "update", channel: "trades:AAPL", seq: 13, data: {} });   // 12 is missing
  out.syncedAfterGap = client.synced("trades:AAPL");
  out.gapRequests = ws.sent.slice();
  ws.push({ type: "snapshot", channel: "trades:AAPL", epoch: 7, seq: 13, reset: true, data: [] });
  out.syncedAfterSnapshot = client.synced("trades:AAPL");
  ws.sent.length = 0;
  ws.close();                                                              // the server went away
  await until(() => FakeSocket.all.length === 2 && client.state === "live");
  ws = FakeSocket.all[1];
  await tick();
  out.resumeRequests = ws.sent.slice();
  out.syncedWhileResuming = client.synced("ticker:AAPL");
  ws.push({ type: "snapshot", channel: "ticker:AAPL", epoch: 8, seq: 2, reset: true, data: { last: "3" } });
  ws.push({ type: "update", channel: "ticker:AAPL", seq: 3, data: { last: "4" } });
  out.tickerData = client.channels.get("ticker:AAPL").data;
  // A second reconnection the server serves from its history: the answer, then what was
  // missed; the channels are whole again without a snapshot.
  ws.close();
  await until(() => FakeSocket.all.length === 3 && client.state === "live");
  ws = FakeSocket.all[2];
  await tick();
  out.syncedWhileResumingAgain = client.synced("ticker:AAPL");
  ws.push([
    { type: "subscribed", id: 9, channels: ["trades:AAPL", "ticker:AAPL"] },
    { type: "update", channel: "ticker:AAPL", seq: 5, data: { last: "5" } },
  ]);
  out.syncedAfterHistory = client.synced("ticker:AAPL") && client.synced("trades:AAPL");
  out.events = events;
  out.states = states;
  out.stats = client.stats;
  return out;
})
