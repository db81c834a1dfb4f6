// Technician bench page (docs/bench-page.md). No build step, no dependencies.
// Every tap becomes a StationEvent with its own event_id and the time of the tap. Events wait in
// localStorage until the collector acknowledges them; ingestion is idempotent by event_id, so a
// retry after a lost answer never counts twice, and a closed tab or a dead network loses nothing.
// The page pairs once (a link with #pair=<code>, from `shopfloor collector token pair`) and sends its station
// token as a bearer header; a refused token (401/403) keeps every tap queued until the page is paired again.
"use strict";

(() => {
  const parts = location.pathname.split("/").filter(Boolean); // bench/<site>/<station>
  const query = new URLSearchParams(location.search);
  const site = query.get("site") || parts[1] || "";
  const station = query.get("station") || parts[2] || "";
  const key = (name) => `shopfloor.bench.${site}.${station}.${name}`;
  const CATEGORIES_KEY = "shopfloor.bench.categories";
  const BATCH = 50;
  const MAX_BACKOFF_MS = 30000;
  const REFRESH_MS = 30000;

  const $ = (id) => document.getElementById(id);
  const load = (name, fallback) => {
    try {
      const text = localStorage.getItem(name);
      return text === null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  };
  const save = (name, value) => localStorage.setItem(name, JSON.stringify(value));

  let queue = load(key("queue"), []); // events not yet acknowledged, in tap order
  let recent = load(key("recent"), []); // acknowledged, maybe not yet in the server's list
  let rejected = load(key("rejected"), []);
  let serverItems = load(key("items"), []);
  // Check-in times are the site's clock, not the phone's (a tablet set to another zone must not shift them).
  let siteZone = load(key("timezone"), undefined);
  let failures = 0;
  let retryTimer = null;
  let sending = false;
  let finishing = null;
  let token = load(key("token"), null); // the station's bearer token, from pairing
  let refusal = ""; // why the server refused the token: sending waits for a new pairing

  const authorized = (headers) => (token ? { ...headers, Authorization: `Bearer ${token}` } : headers);

  function needPairing(why) {
    refusal = why;
    const banner = $("problem-banner");
    banner.textContent =
      `Re-pair needed: ${why}. Taps are kept on this tablet. Ask for a new pairing link ` +
      `(shopfloor collector token pair --site ${site} --station ${station}) and open it here.`;
    banner.dataset.kind = "pairing";
    banner.hidden = false;
  }

  function paired() {
    refusal = "";
    const banner = $("problem-banner");
    if (banner.dataset.kind === "pairing") {
      banner.hidden = true;
      delete banner.dataset.kind;
    }
  }

  // A pairing link carries its one-time code in the fragment (never sent to a server): exchange it for the
  // station token, keep the token, and take the code out of the address bar and the history.
  async function pairFromLink() {
    const code = new URLSearchParams(location.hash.slice(1)).get("pair");
    if (!code) return;
    history.replaceState(null, "", location.pathname + location.search);
    try {
      const response = await fetch("/api/pairing", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code }),
      });
      if (!response.ok) {
        needPairing(`this pairing link was refused (${response.status}: expired or used already)`);
        return;
      }
      const answer = await response.json();
      if (answer.site !== site || answer.station !== station) {
        needPairing(`the link was for ${answer.site}/${answer.station}`);
        return;
      }
      token = answer.token;
      save(key("token"), token);
      paired();
      failures = 0;
      send();
      refresh();
      loadCategories();
    } catch (error) {
      needPairing(`pairing needs the network (${error.message || error}); open the link again when online`);
    }
  }

  // crypto.randomUUID needs a secure context; a tablet on http://192.168.x.x is not one.
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function newItemId() {
    const random = uuid().replace(/-/g, "").slice(0, 6);
    return `${station.slice(0, 40)}-${Date.now().toString(36)}-${random}`;
  }

  function record(type, itemId, extra) {
    const event = { event_id: uuid(), ts_ms: Date.now(), station, type, item_id: itemId, source: "bench-page" };
    for (const [name, value] of Object.entries(extra || {})) {
      if (value !== "" && value !== null && value !== undefined) event[name] = value;
    }
    queue.push(event);
    save(key("queue"), queue);
    render();
    send();
  }

  // ---- sending, with retry and backoff ------------------------------------------------------
  function scheduleRetry() {
    clearTimeout(retryTimer);
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures, 5)) * (0.75 + Math.random() / 2);
    retryTimer = setTimeout(send, delay);
  }

  async function send() {
    if (sending || queue.length === 0 || refusal) return;
    sending = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, BATCH);
        const answer = await post(batch);
        const done = new Set(answer.accepted);
        const now = Date.now();
        for (const failure of answer.rejected) {
          done.add(failure.event_id);
          const event = batch.find((e) => e.event_id === failure.event_id);
          rejected.push({ event, reason: `${failure.field || ""} ${failure.reason || ""}`.trim() });
        }
        recent = recent.concat(batch.filter((e) => answer.accepted.includes(e.event_id)).map((e) => ({ ...e, acked_ms: now })));
        queue = queue.filter((e) => !done.has(e.event_id));
        if (done.size === 0) throw new Error("the server acknowledged none of the events");
        save(key("queue"), queue);
        save(key("recent"), recent);
        save(key("rejected"), rejected);
        failures = 0;
        render();
      }
    } catch (error) {
      if (error.refused && error.used !== token) {
        setTimeout(send, 0); // paired again while this request was out: send with the new token
        return;
      }
      if (error.refused) {
        // Retrying with a refused token cannot succeed: wait for a new pairing, keep every tap.
        needPairing(error.message);
        showSync(error.message);
        return;
      }
      failures += 1;
      showSync(String(error.message || error));
      scheduleRetry();
    } finally {
      sending = false;
    }
  }

  async function post(batch) {
    const used = token;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10000);
    try {
      const response = await fetch(`/api/sites/${encodeURIComponent(site)}/events`, {
        method: "POST",
        headers: authorized({ "Content-Type": "application/json" }),
        body: JSON.stringify(batch),
        signal: controller.signal,
      });
      if (response.status === 401 || response.status === 403) {
        const refused = new Error(
          token ? `the server refused this tablet's token (${response.status})` : "this tablet is not paired yet",
        );
        refused.refused = true;
        refused.used = used;
        throw refused;
      }
      if (response.status === 400 || response.status === 422) {
        // The whole body was refused: keep the events, visibly, instead of retrying forever.
        const detail = await response.text();
        return { accepted: [], rejected: batch.map((e) => ({ event_id: e.event_id, reason: detail.slice(0, 300) })) };
      }
      if (!response.ok) throw new Error(`server answered ${response.status}`);
      const answer = await response.json();
      return { accepted: answer.accepted || [], rejected: answer.rejected || [] };
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- open items: the server's list with this device's unconfirmed taps on top ---------------
  async function refresh() {
    const started = Date.now();
    try {
      const url = `/api/sites/${encodeURIComponent(site)}/stations/${encodeURIComponent(station)}/open-items`;
      const used = token;
      const response = await fetch(url, { headers: authorized({ Accept: "application/json" }) });
      if ((response.status === 401 || response.status === 403) && used === token && !refusal) {
        needPairing(token ? `the server refused this tablet's token (${response.status})` : "this tablet is not paired yet");
      }
      if (!response.ok) throw new Error(`open items: server answered ${response.status}`);
      const answer = await response.json();
      serverItems = answer.items || [];
      if (answer.timezone) {
        siteZone = answer.timezone;
        save(key("timezone"), siteZone);
      }
      recent = recent.filter((e) => e.acked_ms >= started);
      save(key("items"), serverItems);
      save(key("recent"), recent);
    } catch (error) {
      showSync(`offline: ${error.message || error}`);
    }
    render();
  }

  function openItems() {
    const items = new Map(serverItems.map((item) => [item.item_id, { ...item }]));
    const local = recent.concat(queue).sort((a, b) => a.ts_ms - b.ts_ms);
    for (const event of local) {
      const item = items.get(event.item_id);
      if (event.type === "checked_in" && !item) {
        items.set(event.item_id, {
          item_id: event.item_id,
          category: event.category,
          weight_kg: event.weight_kg ?? null,
          brand: event.brand ?? null,
          checked_in_ms: event.ts_ms,
          state: "waiting",
        });
      } else if (item && (event.type === "started" || event.type === "resumed")) {
        item.state = "working";
      } else if (item && event.type === "paused") {
        item.state = "paused";
      } else if (event.type === "finished") {
        items.delete(event.item_id);
      }
    }
    return Array.from(items.values()).sort((a, b) => (a.checked_in_ms || 0) - (b.checked_in_ms || 0));
  }

  // ---- rendering ------------------------------------------------------------------------------
  function showSync(problem) {
    const badge = $("sync");
    if (queue.length === 0) {
      badge.dataset.state = "ok";
      badge.textContent = "Saved";
    } else {
      badge.dataset.state = problem ? "error" : "pending";
      badge.textContent = `${queue.length} waiting to send`;
    }
    badge.title = problem || "";
  }

  function zoned(options) {
    try {
      return new Intl.DateTimeFormat(undefined, { ...options, timeZone: siteZone });
    } catch {
      return new Intl.DateTimeFormat(undefined, options); // an unknown zone name: the phone's own
    }
  }

  // "checked in 15:25" today, "checked in Sat 29 Nov, 15:25" on another day of the site's calendar.
  function checkedIn(ms) {
    const day = zoned({ year: "numeric", month: "2-digit", day: "2-digit" });
    const time = { hour: "2-digit", minute: "2-digit" };
    const sameDay = day.format(ms) === day.format(Date.now());
    const text = zoned(sameDay ? time : { weekday: "short", day: "numeric", month: "short", ...time }).format(ms);
    return `checked in ${text}`;
  }

  // The random tail of a device-made id (<station>-<time>-<random>) tells two laptops apart.
  function shortId(itemId) {
    const tail = String(itemId).split("-").pop();
    return tail.length >= 4 ? tail : String(itemId).slice(-8);
  }

  function button(label, onClick, primary) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (primary) b.className = "primary";
    b.addEventListener("click", onClick);
    return b;
  }

  function render() {
    const items = openItems();
    const list = $("items");
    list.replaceChildren();
    for (const item of items) {
      const li = document.createElement("li");
      li.className = "item";
      li.dataset.state = item.state;
      li.dataset.itemId = item.item_id;
      const what = document.createElement("div");
      what.className = "what";
      what.textContent = [item.category, item.brand].filter(Boolean).join(" · ");
      const meta = document.createElement("div");
      meta.className = "meta";
      const since = item.checked_in_ms ? checkedIn(item.checked_in_ms) : "";
      meta.textContent = [item.state, item.weight_kg ? `${item.weight_kg} kg` : "", since, item.item_id]
        .filter(Boolean)
        .join(" · ");
      const row = document.createElement("div");
      row.className = "row";
      if (item.state === "working") row.append(button("Pause", () => record("paused", item.item_id)));
      else if (item.state === "paused") row.append(button("Resume", () => record("resumed", item.item_id)));
      else row.append(button("Start", () => record("started", item.item_id)));
      row.append(button("Finish", () => openFinish(item), true));
      li.append(what, meta, row);
      list.append(li);
    }
    $("open-count").textContent = String(items.length);
    $("empty").hidden = items.length > 0;
    const failed = $("rejected");
    failed.replaceChildren(
      ...rejected.map(({ event, reason }) => {
        const li = document.createElement("li");
        li.textContent = `${event ? `${event.type} ${event.item_id}` : "event"}: ${reason}`;
        return li;
      }),
    );
    $("rejected-section").hidden = rejected.length === 0;
    showSync("");
  }

  // ---- forms ----------------------------------------------------------------------------------
  async function loadCategories() {
    let categories = load(CATEGORIES_KEY, []);
    try {
      const response = await fetch("/api/categories", { headers: authorized({ Accept: "application/json" }) });
      if (response.ok) {
        categories = (await response.json()).categories || [];
        save(CATEGORIES_KEY, categories);
      }
    } catch {
      // Offline: the cached list from the last visit will do.
    }
    const select = document.querySelector("#checkin select[name=category]");
    const groups = [
      ["Electrical and electronic (ORDS)", categories.filter((c) => c.powered)],
      ["Unpowered", categories.filter((c) => !c.powered)],
    ];
    const placeholder = new Option(categories.length ? "Choose…" : "No categories: connect once", "");
    select.replaceChildren(placeholder);
    for (const [label, members] of groups) {
      const group = document.createElement("optgroup");
      group.label = label;
      for (const c of members) group.append(new Option(c.name, c.name));
      if (members.length) select.append(group);
    }
  }

  function checkIn(submit) {
    submit.preventDefault();
    const form = submit.target;
    const data = new FormData(form);
    const number = (name) => (data.get(name) === "" ? null : Number(data.get(name)));
    record("checked_in", newItemId(), {
      category: data.get("category"),
      weight_kg: number("weight_kg"),
      brand: data.get("brand").trim(),
      product_age: number("product_age"),
      problem: data.get("problem").trim(),
    });
    form.reset();
  }

  function openFinish(item) {
    finishing = item;
    const form = $("finish-form");
    form.reset();
    $("finish-item").textContent = [item.category, item.brand, shortId(item.item_id)].filter(Boolean).join(" · ");
    $("barrier-field").hidden = true;
    $("finish-error").hidden = true;
    $("finish").showModal();
  }

  function confirmFinish(click) {
    const form = $("finish-form");
    const data = new FormData(form);
    const status = data.get("repair_status") || "";
    const outcome = data.get("outcome") || "";
    if (!status && !outcome) {
      click.preventDefault();
      $("finish-error").textContent = "Choose a repair outcome or a reuse outcome.";
      $("finish-error").hidden = false;
      return;
    }
    record("finished", finishing.item_id, {
      repair_status: status,
      barrier: status === "End of life" ? data.get("barrier") : "",
      outcome,
    });
  }

  function start() {
    if (!site || !station) {
      $("problem-banner").textContent = "Open this page as /bench/<site>/<station>.";
      $("problem-banner").hidden = false;
      return;
    }
    document.title = `${station} · ${site}`;
    $("title").textContent = `${station} · ${site}`;
    // The site's report for the last full month (docs/reports.md), for the team meeting.
    const now = new Date();
    const last = new Date(now.getFullYear(), now.getMonth() - 1, 1);
    const month = `${last.getFullYear()}-${String(last.getMonth() + 1).padStart(2, "0")}`;
    $("report-link").href = `/api/reports/sites/${encodeURIComponent(site)}?month=${month}&format=pdf`;
    $("report-link").hidden = false;
    // A link cannot send the bearer header: fetch the PDF with it and open what came back.
    $("report-link").addEventListener("click", async (click) => {
      click.preventDefault();
      try {
        const response = await fetch($("report-link").href, { headers: authorized({}) });
        if (!response.ok) throw new Error(`report: server answered ${response.status}`);
        window.open(URL.createObjectURL(await response.blob()), "_blank");
      } catch (error) {
        showSync(String(error.message || error));
      }
    });
    $("checkin").addEventListener("submit", checkIn);
    $("finish-confirm").addEventListener("click", confirmFinish);
    $("finish-form").addEventListener("change", () => {
      $("barrier-field").hidden = new FormData($("finish-form")).get("repair_status") !== "End of life";
    });
    window.addEventListener("hashchange", pairFromLink);
    window.addEventListener("online", () => {
      failures = 0;
      send();
      refresh();
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) {
        send();
        refresh();
      }
    });
    setInterval(refresh, REFRESH_MS);
    render();
    if (!token && !location.hash.includes("pair=")) needPairing("this tablet is not paired yet");
    // With a pairing link, pair first: requests sent before would go out without the token.
    pairFromLink().finally(() => {
      loadCategories();
      refresh();
      send();
    });
  }

  start();
})();
