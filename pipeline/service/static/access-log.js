// The access-log page: the SaaS application opens /#token=<jwt>&ws=<workspace> (or /team#...).
// The token stays in the fragment and sessionStorage: it is never sent in a URL to the server.
"use strict";
(function () {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("token")) {
    sessionStorage.setItem("secmon-token", params.get("token"));
    if (params.get("ws")) sessionStorage.setItem("secmon-ws", params.get("ws"));
    history.replaceState(null, "", location.pathname);
  }
  const token = sessionStorage.getItem("secmon-token");
  const ws = sessionStorage.getItem("secmon-ws");
  const team = location.pathname.startsWith("/team");
  const $ = (id) => document.getElementById(id);
  const claims = token ? JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) : {};
  let cursor = null;

  $("title").textContent = team ? "Team access log (" + ws + ")" : "My access log";
  $("who").textContent = claims.name ? "Signed in as " + claims.name : "Not signed in";
  $("user").parentElement.hidden = !team;

  function query(extra) {
    const q = new URLSearchParams(extra || {});
    if (team && $("user").value) q.set("user", $("user").value);
    if ($("since").value) q.set("since", $("since").value + "T00:00:00Z");
    return q;
  }
  function base() {
    return team ? "/v1/workspaces/" + encodeURIComponent(ws) + "/access-log" : "/v1/me/access-log";
  }
  async function call(method, url) {
    const resp = await fetch(url, {method: method, headers: {Authorization: "Bearer " + token}});
    const body = resp.headers.get("content-type").startsWith("application/json") ? await resp.json() : null;
    if (!resp.ok) throw new Error((body && typeof body.detail === "string") ? body.detail : "HTTP " + resp.status);
    return body;
  }
  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);  // textContent: nothing from the log is parsed as HTML
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  async function load(reset) {
    $("error").textContent = "";
    const tbody = $("log").tBodies[0];
    if (reset) { tbody.replaceChildren(); cursor = null; }
    const extra = {limit: "10"};
    if (cursor) extra.cursor = cursor;
    try {
      const page = await call("GET", base() + "?" + query(extra));
      for (const r of page.rows) {
        const tr = document.createElement("tr");
        tr.dataset.id = r.id;
        [r.time.replace("T", " ").slice(0, 19), r.user || r.user_id].forEach((t) => cell(tr, t));
        cell(tr, r.outcome + (r.failure_reason ? " (" + r.failure_reason + ")" : ""), r.outcome);
        [r.device_type, r.browser, r.os, r.ip, r.country, r.city, r.mfa ? (r.mfa_method || "yes") : "no"]
          .forEach((t) => cell(tr, t));
        tbody.appendChild(tr);
      }
      cursor = page.next_cursor;
      $("more").hidden = !cursor;
    } catch (e) { $("error").textContent = e.message; }
  }
  async function download(ev) {
    ev.preventDefault();
    const resp = await fetch(base() + "?" + query({format: "csv"}), {headers: {Authorization: "Bearer " + token}});
    const url = URL.createObjectURL(await resp.blob());
    const a = document.createElement("a");
    a.href = url; a.download = "access-log.csv"; a.click();
    URL.revokeObjectURL(url);
  }
  async function signout() {
    const user = team && $("user").value ? $("user").value : claims.sub;
    if (!confirm("Sign " + user + " out of all devices?")) return;
    $("status").textContent = "requesting...";
    try {
      const key = crypto.randomUUID();
      const resp = await fetch("/v1/workspaces/" + encodeURIComponent(ws) + "/users/" + encodeURIComponent(user) +
        "/signout-all", {method: "POST", headers: {Authorization: "Bearer " + token, "Idempotency-Key": key}});
      const req = await resp.json();
      if (!resp.ok) throw new Error(typeof req.detail === "string" ? req.detail : "HTTP " + resp.status);
      for (let i = 0; i < 120; i++) {
        const st = await call("GET", "/v1/signouts/" + req.request_id);
        $("status").textContent = "sign-out " + st.status;
        if (st.status !== "requested") return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    } catch (e) { $("status").textContent = ""; $("error").textContent = e.message; }
  }
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(true); });
  $("more").addEventListener("click", () => load(false));
  $("csv").addEventListener("click", download);
  $("signout").addEventListener("click", signout);
  if (token) load(true);
})();
