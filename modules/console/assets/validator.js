// The validator's live page: follows /admin/events (one "state" event a second) and renders
// it. Uses common.js; text from the network goes in with textContent only.
"use strict";

const shown = new Set();  // verdict sequence numbers already listed
const maxVerdictRows = 100;

function clock(iso) {
  const m = /T(\d\d:\d\d:\d\d)/.exec(iso || "");
  return m ? m[1] : "";
}

async function disconnect(hotkey, button) {
  button.disabled = true;
  const res = await fetch("/admin/disconnect", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({hotkey, hold_seconds: 600}),
  });
  const body = await res.json().catch(() => ({}));
  button.textContent = res.ok ? "Closing…" : (body.message || res.statusText);
}

function renderConnections(list) {
  const body = $("connections").tBodies[0];
  body.replaceChildren();
  list.sort((a, b) => a.uid - b.uid);
  for (const c of list) {
    const tr = document.createElement("tr");
    tr.dataset.hotkey = c.hotkey;
    cell(tr, String(c.uid));
    cell(tr, shortKey(c.hotkey), "mono").title = c.hotkey;
    cell(tr, c.remote_address, "mono");
    cell(tr, clock(c.connected_since));
    cell(tr, clock(c.last_heartbeat));
    cell(tr, String(c.accepted), "ok");
    cell(tr, String(c.refused), c.refused > 0 ? "bad" : "");
    cell(tr, String(c.send_queue));
    const button = document.createElement("button");
    button.className = "danger";
    button.textContent = "Disconnect";
    button.title = "Closes the connection and refuses this hotkey for 10 minutes";
    button.addEventListener("click", () => disconnect(c.hotkey, button));
    tr.appendChild(document.createElement("td")).appendChild(button);
    body.appendChild(tr);
  }
  if (list.length === 0) emptyRow(body, 9, "No miner is connected");
}

function addVerdicts(list) {
  const body = $("verdicts").tBodies[0];
  if (body.querySelector("td.empty")) body.replaceChildren();
  // The list is newest first: insert oldest first, each at the top.
  for (const v of list.slice().reverse()) {
    if (shown.has(v.seq)) continue;
    shown.add(v.seq);
    const tr = document.createElement("tr");
    tr.dataset.predictionId = v.prediction_id;
    tr.dataset.status = v.status;
    cell(tr, clock(v.time));
    cell(tr, String(v.uid)).title = v.hotkey;
    cell(tr, v.prediction_id.slice(0, 13), "mono").title = v.prediction_id;
    const verdict = v.status === "success" ? "accepted" : v.message;
    cell(tr, verdict + (v.duplicate ? " (again)" : ""), v.status === "success" ? "ok" : "bad");
    cell(tr, v.channel === "http" ? "HTTP" : "WebSocket", "muted");
    body.insertBefore(tr, body.firstChild);
  }
  while (body.rows.length > maxVerdictRows) body.deleteRow(body.rows.length - 1);
  if (body.rows.length === 0) emptyRow(body, 5, "No verdict yet");
}

function odds(g) {
  const parts = [g.team_a_odds, g.team_b_odds];
  if (g.tie_odds !== null) parts.push(g.tie_odds);
  return parts.map((x) => x.toFixed(2)).join(" / ");
}

function renderGames(list, count) {
  const body = $("games").tBodies[0];
  body.replaceChildren();
  for (const g of list) {
    const tr = document.createElement("tr");
    tr.dataset.gameId = g.game_id;
    cell(tr, g.game_id.slice(0, 13), "mono").title = g.game_id;
    cell(tr, g.team_a + " vs " + g.team_b);
    cell(tr, (g.event_start_date || "").replace("T", " ").slice(0, 16));
    cell(tr, odds(g), "mono");
    body.appendChild(tr);
  }
  if (list.length === 0) emptyRow(body, 4, "No game");
  if (count > list.length) emptyRow(body, 4, "… and " + (count - list.length) + " more");
}

function render(s) {
  $("validator").textContent = s.validator;
  $("connection-count").textContent = String(s.connections.length);
  $("accepted-rate").textContent = s.rates.accepted_per_second.toFixed(0);
  $("refused-rate").textContent = s.rates.refused_per_second.toFixed(0);
  $("verdict-totals").textContent = s.totals.accepted + " / " + s.totals.refused;
  $("game-count").textContent = String(s.game_count);
  renderConnections(s.connections);
  addVerdicts(s.verdicts);
  renderGames(s.games, s.game_count);
}

const events = new EventSource("/admin/events");
events.addEventListener("state", (e) => {
  const state = JSON.parse(e.data);
  $("status").textContent = "live";
  $("status").className = "status live";
  $("status").title = "updated " + state.time;
  render(state);
});
events.addEventListener("error", () => {
  $("status").className = "status down";
  if (events.readyState === EventSource.CLOSED) {
    // Refused (the validator restarted and the session ended): sign in again.
    $("status").textContent = "signed out";
    window.location.assign("/admin");
  } else {
    $("status").textContent = "reconnecting…";
  }
});
