// A socket closed with 4401 (signed out): tickstream.js does not reopen it (checked in
// test_client_js.py).
(async () => {
  const { TickstreamClient } = await import("/static/tickstream/tickstream.js");
  const until = async (check) => { for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10)); };
  const client = new TickstreamClient("ws://test/ws/v1/", { backoff: { initialMs: 10, maxMs: 20, factor: 2 } });
  const states = [];
  client.onstate = (s) => states.push(s);
  await until(() => client.state === "live");
  const ws = FakeSocket.all[0];
  ws.push({ type: "error", id: null, code: "signed_out", message: "you were signed out" });
  ws.readyState = 3;
  ws.onclose({ code: 4401 });
  await new Promise((r) => setTimeout(r, 200));
  return { states, sockets: FakeSocket.all.length };
})();
