// Progressive enhancement for the server-rendered pages: everything works without this file.
(() => {
  "use strict";

  const pad = (n) => String(n).padStart(2, "0");

  // "+02:00" for the browser's offset from UTC at `date` (DST-aware).
  function offsetAt(date) {
    const minutes = -date.getTimezoneOffset();
    const abs = Math.abs(minutes);
    return `${minutes < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }

  function localInputValue(date, withSeconds) {
    const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
    const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
    return `${day}T${time}${withSeconds ? `:${pad(date.getSeconds())}` : ""}`;
  }

  // The server reads a datetime-local value with the offset in its hidden partner field
  // (UTC when this script does not run); show and send it in the browser's own time zone.
  function setUpDueInputs(root) {
    for (const input of root.querySelectorAll("input[data-offset-input]")) {
      const offset = document.getElementById(input.dataset.offsetInput);
      if (!offset) continue;
      if (input.value) {
        const withSeconds = input.value.length > 16;
        const moment = new Date(`${input.value}${withSeconds ? "" : ":00"}${offset.value}`);
        if (!Number.isNaN(moment.getTime())) input.value = localInputValue(moment, withSeconds);
      }
      offset.value = offsetAt(input.value ? new Date(input.value) : new Date());
      input.form?.addEventListener("submit", () => {
        const local = input.value ? new Date(input.value) : new Date();
        if (!Number.isNaN(local.getTime())) offset.value = offsetAt(local);
      });
    }
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (const hint of root.querySelectorAll("[data-zone-hint]")) {
      hint.textContent = zone ? `Times are in your time zone (${zone}).` : "Times are in your time zone.";
    }
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });

  function localiseTimes(root) {
    for (const time of root.querySelectorAll("time[data-local-time]")) {
      const moment = new Date(time.dateTime);
      if (!Number.isNaN(moment.getTime())) time.textContent = timeFormat.format(moment);
    }
  }

  // Complete, delete and undo without a full reload: post the same form, then swap in the
  // list and the notice from the page the server redirects to.
  async function submitInPlace(form, submitter) {
    if (form.dataset.busy) return;
    form.dataset.busy = "true";
    const key = (submitter || form.querySelector("[data-focus-key]"))?.dataset.focusKey;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
      });
    } catch {
      form.submit();
      return;
    }
    if (!response.ok) {
      form.submit(); // The write did not happen; let the browser show the server's page.
      return;
    }
    const landed = new URL(response.url);
    const html = await response.text();
    const next = new DOMParser().parseFromString(html, "text/html");
    const region = next.getElementById("task-region");
    const live = next.getElementById("live");
    if (landed.pathname !== location.pathname || !region || !live) {
      location.assign(response.url);
      return;
    }
    document.getElementById("task-region").replaceWith(document.adoptNode(region));
    // Copy the list first: adopting a node removes it from the live childNodes collection.
    const notices = Array.from(live.childNodes).map((node) => document.adoptNode(node));
    document.getElementById("live").replaceChildren(...notices);
    history.replaceState(null, "", landed.pathname + landed.search);
    localiseTimes(region);
    const target =
      (key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)) ||
      document.querySelector('#live [data-focus-key="undo"]') ||
      document.getElementById("tasks-heading");
    target?.focus();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-enhance")) return;
    event.preventDefault();
    submitInPlace(form, event.submitter);
  });

  // A notice rendered with the page is re-inserted so that screen readers announce it too.
  function announce() {
    const live = document.getElementById("live");
    if (!live || !live.childElementCount) return;
    const nodes = Array.from(live.childNodes);
    live.replaceChildren();
    requestAnimationFrame(() => live.replaceChildren(...nodes));
  }

  function start() {
    setUpDueInputs(document);
    localiseTimes(document);
    announce();
    document.querySelector('[aria-invalid="true"]')?.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
