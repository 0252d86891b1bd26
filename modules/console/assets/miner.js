// The miner's page: reads /ui/state once a second and renders it; the form posts to
// POST /predictions, the same endpoint (and the same checks and texts) a model uses.
// Uses common.js; text from the network goes in with textContent only.
"use strict";

let games = [];

function odds(g) {
  const parts = [g.team_a_odds, g.team_b_odds];
  if (g.tie_odds !== null && g.tie_odds !== undefined) parts.push(g.tie_odds);
  return parts.map((x) => Number(x).toFixed(2)).join(" / ");
}

function renderValidators(list) {
  const body = $("validators").tBodies[0];
  body.replaceChildren();
  for (const v of list) {
    const tr = document.createElement("tr");
    tr.dataset.hotkey = v.hotkey;
    cell(tr, shortKey(v.hotkey), "mono").title = v.hotkey;
    cell(tr, v.address.split("@")[0], "mono");
    cell(tr, v.connected ? "connected" : "down (" + v.consecutive_failures + " failures)",
         v.connected ? "ok" : "bad");
    cell(tr, String(v.pending));
    body.appendChild(tr);
  }
  if (list.length === 0) emptyRow(body, 4, "No validator known");
}

function renderGames(list) {
  const body = $("games").tBodies[0];
  body.replaceChildren();
  for (const g of list) {
    const tr = document.createElement("tr");
    tr.dataset.gameId = g.game_id;
    cell(tr, g.team_a + " vs " + g.team_b);
    cell(tr, g.sport);
    cell(tr, g.event_start_date.replace("T", " ").slice(0, 16));
    cell(tr, odds(g), "mono");
    body.appendChild(tr);
  }
  if (list.length === 0) emptyRow(body, 4, "No upcoming game");
}

function fillGameChoices(list) {
  const select = $("game");
  const chosen = select.value;
  const ids = list.map((g) => g.game_id).join();
  if (select.dataset.ids === ids) return;  // unchanged: keep what the user picked
  select.dataset.ids = ids;
  select.replaceChildren();
  for (const g of list) {
    const o = document.createElement("option");
    o.value = g.game_id;
    o.textContent = g.team_a + " vs " + g.team_b;
    select.appendChild(o);
  }
  if (list.some((g) => g.game_id === chosen)) select.value = chosen;
  fillOutcomes();
}

function fillOutcomes() {
  const g = games.find((x) => x.game_id === $("game").value);
  const select = $("outcome");
  select.replaceChildren();
  if (!g) return;
  const choices = [g.team_a, g.team_b];
  if (g.can_tie) choices.push("Tie");
  for (const c of choices) {
    const o = document.createElement("option");
    o.value = c;
    o.textContent = c;
    select.appendChild(o);
  }
}

function renderPredictions(list) {
  const body = $("predictions").tBodies[0];
  body.replaceChildren();
  for (const p of list) {
    const tr = document.createElement("tr");
    tr.dataset.predictionId = p.prediction_id;
    cell(tr, p.prediction_id.slice(0, 13), "mono").title = p.prediction_id;
    cell(tr, p.team_a + " vs " + p.team_b);
    cell(tr, p.predicted_outcome + " @ " + Number(p.predicted_odds).toFixed(2));
    cell(tr, String(p.wager));
    const verdicts = cell(tr, "");
    for (const a of p.answers) {
      const span = document.createElement("div");
      span.className = a.status === "confirmed" ? "ok" : a.status === "rejected" ? "bad" : "pending";
      span.dataset.validator = a.validator;
      span.dataset.status = a.status;
      span.textContent = shortKey(a.validator) + ": " + a.status + (a.message ? " (" + a.message + ")" : "");
      verdicts.appendChild(span);
    }
    body.appendChild(tr);
  }
  if (list.length === 0) emptyRow(body, 5, "No prediction yet");
}

async function refresh() {
  try {
    const res = await fetch("/ui/state");
    if (!res.ok) throw new Error(res.status + " " + res.statusText);
    const s = await res.json();
    games = s.games;
    $("miner").textContent = s.miner + (s.uid !== "" ? " (UID " + s.uid + ")" : "");
    $("status").textContent = "live";
    $("status").className = "status live";
    renderValidators(s.validators);
    renderGames(s.games);
    fillGameChoices(s.games);
    renderPredictions(s.predictions);
  } catch (e) {
    $("status").textContent = "miner unreachable";
    $("status").className = "status down";
  }
}

$("game").addEventListener("change", fillOutcomes);
$("predict").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    game_id: $("game").value,
    predicted_outcome: $("outcome").value,
    wager: Number($("wager").value),
  };
  if ($("confidence").value !== "") body.confidence_score = Number($("confidence").value);
  const result = $("result");
  const res = await fetch("/predictions", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({message: res.statusText}));
  if (res.ok) {
    result.className = "ok";
    result.dataset.predictionId = answer.prediction_id;
    result.textContent = "Stored and sent: " + answer.prediction_id;
  } else {
    result.className = "bad";
    delete result.dataset.predictionId;
    result.textContent = answer.message;
  }
  refresh();
});

refresh();
setInterval(refresh, 1000);
