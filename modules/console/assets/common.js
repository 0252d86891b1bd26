// What both pages share: element lookup and table cells. Text from the network goes in with
// textContent only.
"use strict";

const $ = (id) => document.getElementById(id);

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function shortKey(key) {
  return key.length > 14 ? key.slice(0, 8) + "…" + key.slice(-4) : key;
}

// A row across `columns` columns saying `text` (an empty table).
function emptyRow(body, columns, text) {
  const tr = document.createElement("tr");
  const td = cell(tr, text, "empty");
  td.colSpan = columns;
  body.appendChild(tr);
}
