// Deskway console: small enhancements over server-rendered pages. Every
// page works without this script except the support code field, which
// must keep the secret digits out of any request to the broker.
"use strict";

// Buttons and forms with data-confirm ask first.
document.addEventListener("submit", (ev) => {
  const msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});

// Relative times ("3 min ago") for <time> elements, refreshed.
function ago(iso) {
  if (!iso) return "never";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (isNaN(s)) return "";
  if (s < 45) return "just now";
  if (s < 90 * 60) return Math.round(s / 60) + " min ago";
  if (s < 36 * 3600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

// My hosts: presence and new hosts appear live.
const hostTable = document.getElementById("hosts");
if (hostTable) {
  const viewer = hostTable.dataset.viewerUrl || "/view";
  const tbody = hostTable.tBodies[0];
  const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };
  const render = (hosts) => {
    const rows = [];
    for (const h of hosts) {
      const tr = document.createElement("tr");
      tr.id = "host-" + h.id;
      tr.dataset.hostId = h.id;
      const pres = document.createElement("span");
      pres.id = "presence-" + h.id;
      pres.className = "presence " + (h.online ? "online" : "offline");
      pres.textContent = h.online ? "online" : "offline";
      const td0 = document.createElement("td");
      td0.appendChild(pres);
      const name = cell(h.name);
      name.className = "name";
      const seen = document.createElement("time");
      seen.dateTime = h.last_seen || "";
      seen.textContent = ago(h.last_seen);
      const td4 = document.createElement("td");
      td4.appendChild(seen);
      const a = document.createElement("a");
      a.className = "button" + (h.online ? "" : " disabled");
      a.id = "connect-" + h.id;
      a.href = viewer + "?host=" + encodeURIComponent(h.id);
      a.textContent = "Connect";
      const td6 = document.createElement("td");
      td6.className = "actions";
      td6.appendChild(a);
      tr.append(td0, name, cell(h.os), cell(h.version), td4, cell(h.owner_name), td6);
      rows.push(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell("No hosts yet. Add one below.");
      td.colSpan = 7;
      tr.appendChild(td);
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
  };
  const poll = async () => {
    try {
      const resp = await fetch("/api/v1/hosts?mine=1", { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (resp.ok) render(await resp.json());
    } catch (e) { /* offline for a moment: try again */ }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 1000);
}

// Support code: open the viewer with the code in the URL fragment, which
// the browser never sends to a server.
const supportForm = document.getElementById("support-code");
if (supportForm) {
  supportForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const digits = supportForm.elements.code.value.replace(/[^0-9]/g, "");
    if (digits.length < 9 || digits.length > 11) {
      supportForm.elements.code.setCustomValidity("A support code has 9 to 11 digits.");
      supportForm.elements.code.reportValidity();
      return;
    }
    supportForm.elements.code.value = "";
    const viewer = supportForm.dataset.viewerUrl || "/view";
    window.location.assign(viewer + "#code=" + digits);
  });
  supportForm.elements.code.addEventListener("input", () => supportForm.elements.code.setCustomValidity(""));
}

for (const t of document.querySelectorAll("time[datetime]")) {
  if (t.dateTime && !t.closest("#hosts")) t.title = new Date(t.dateTime).toLocaleString();
}
