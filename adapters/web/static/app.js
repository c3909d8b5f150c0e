// Progressive enhancement for the server-rendered pages: everything works without this file.
(() => {
  "use strict";

  document.documentElement.classList.add("js");

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

  // Complete, delete, undo and reorder without a full reload: post the same form, then swap in
  // the list, the list switcher's counts and the notice from the page the server redirects to.
  async function submitInPlace(form, submitter, refocus = true) {
    if (form.dataset.busy) return false;
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
      return false;
    }
    if (!response.ok) {
      form.submit(); // The write did not happen; let the browser show the server's page.
      return false;
    }
    const landed = new URL(response.url);
    const html = await response.text();
    const next = new DOMParser().parseFromString(html, "text/html");
    const region = next.getElementById("task-region");
    const live = next.getElementById("live");
    if (landed.pathname !== location.pathname || !region || !live) {
      location.assign(response.url);
      return true;
    }
    document.getElementById("task-region").replaceWith(document.adoptNode(region));
    const links = next.getElementById("list-links");
    if (links) document.getElementById("list-links")?.replaceWith(document.adoptNode(links));
    // Copy the list first: adopting a node removes it from the live childNodes collection.
    const notices = Array.from(live.childNodes).map((node) => document.adoptNode(node));
    document.getElementById("live").replaceChildren(...notices);
    history.replaceState(null, "", landed.pathname + landed.search);
    localiseTimes(region);
    if (!refocus) return true;
    const target =
      (key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)) ||
      document.querySelector('#live [data-focus-key="undo"]') ||
      document.getElementById("tasks-heading");
    target?.focus();
    return true;
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-enhance")) return;
    event.preventDefault();
    submitInPlace(form, event.submitter);
  });

  // Drag and drop: a task lands among its siblings (or on another list in the switcher), and the
  // move goes to the very endpoint the reorder buttons and the edit page's move form post to.
  let dragged = null;
  let origin = null;

  // A task becomes draggable when pressed on its row, not on its controls or in a form field
  // (whose text stays selectable), and stops being so when let go.
  document.addEventListener("pointerdown", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const row = target?.closest(".task-row");
    const item = row?.parentElement;
    if (!item?.matches("ul[data-reorder] li[data-task-id]")) return;
    if (target.closest("input, textarea, select, button, a, summary")) return;
    item.draggable = true;
  });

  function undraggable() {
    for (const item of document.querySelectorAll("li[draggable]")) item.removeAttribute("draggable");
  }

  document.addEventListener("pointerup", undraggable);

  function postMove(taskId, fields) {
    const region = document.getElementById("task-region");
    const token = document.querySelector('input[name="csrf_token"]');
    if (!region || !token) return;
    const form = document.createElement("form");
    form.method = "post";
    form.action = `/tasks/${encodeURIComponent(taskId)}/move`;
    form.hidden = true;
    const values = { csrf_token: token.value, next: region.dataset.returnTo, ...fields };
    for (const [name, value] of Object.entries(values)) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    document.body.append(form);
    submitInPlace(form, null, false).then((done) => done && form.remove());
  }

  // The sibling under the pointer: the task, or the task holding the subtask under it.
  function siblingAt(event) {
    const group = dragged.parentElement;
    let item = event.target instanceof Element ? event.target.closest("li[data-task-id]") : null;
    while (item && item.parentElement !== group) {
      item = item.parentElement.closest("li[data-task-id]");
    }
    return item;
  }

  function listLinkAt(event) {
    const link = event.target instanceof Element ? event.target.closest("a.list-link[data-list-id]") : null;
    return link && link.getAttribute("aria-current") !== "page" ? link : null;
  }

  function clearDropTargets() {
    for (const link of document.querySelectorAll(".is-drop-target")) {
      link.classList.remove("is-drop-target");
    }
  }

  function endDrag(restore) {
    undraggable();
    if (!dragged) return;
    if (restore) origin.parent.insertBefore(dragged, origin.next);
    dragged.classList.remove("is-dragging");
    dragged = null;
    clearDropTargets();
  }

  document.addEventListener("dragstart", (event) => {
    const item = event.target instanceof Element ? event.target.closest("li[data-task-id]") : null;
    if (!item || !item.draggable || !item.closest("ul[data-reorder]")) return;
    dragged = item;
    origin = { parent: item.parentElement, next: item.nextElementSibling };
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.querySelector(".task-title")?.textContent || "");
    requestAnimationFrame(() => item.classList.add("is-dragging"));
  });

  document.addEventListener("dragover", (event) => {
    if (!dragged) return;
    clearDropTargets();
    const link = listLinkAt(event);
    if (link) {
      event.preventDefault();
      link.classList.add("is-drop-target");
      return;
    }
    const item = siblingAt(event);
    if (!item) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (item === dragged) return;
    // A parent's box holds its subtasks: where the pointer is on its own row decides.
    const row = item.querySelector(":scope > .task-row").getBoundingClientRect();
    const before = event.clientY < row.top + row.height / 2;
    item.parentElement.insertBefore(dragged, before ? item : item.nextElementSibling);
  });

  document.addEventListener("drop", (event) => {
    if (!dragged) return;
    event.preventDefault();
    const item = dragged;
    const link = listLinkAt(event);
    if (link) {
      endDrag(true);
      postMove(item.dataset.taskId, { list_id: link.dataset.listId });
      return;
    }
    const group = item.parentElement;
    const unmoved = group === origin.parent && item.nextElementSibling === origin.next;
    const previous = item.previousElementSibling;
    // The first place of a later page follows a task of the page before, which `after` cannot
    // name from here: that drop is undone.
    const blocked = !previous && group.dataset.firstPage === "false";
    endDrag(unmoved || blocked);
    if (unmoved || blocked) return;
    postMove(item.dataset.taskId, { after: previous ? previous.dataset.taskId : "first" });
  });

  document.addEventListener("dragend", () => endDrag(true));

  // The invite link: selected at a click, copied by its button.
  function setUpCopyButtons(root) {
    for (const input of root.querySelectorAll("input[data-select-on-focus]")) {
      input.addEventListener("focus", () => input.select());
    }
    for (const button of root.querySelectorAll("button[data-copy]")) {
      const input = document.getElementById(button.dataset.copy);
      const status = root.querySelector(`[data-copy-status="${CSS.escape(button.dataset.copy)}"]`);
      if (!input || !navigator.clipboard) continue;
      button.hidden = false;
      if (status) status.textContent = "Copy the link and send it to the person you invite.";
      button.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(input.value);
          if (status) status.textContent = "Link copied.";
        } catch {
          input.focus();
          if (status) status.textContent = "Select the link and copy it.";
        }
      });
    }
  }

  // A notice rendered with the page is re-inserted so that screen readers announce it too.
  function announce() {
    const live = document.getElementById("live");
    if (!live || !live.childElementCount) return;
    const nodes = Array.from(live.childNodes);
    live.replaceChildren();
    requestAnimationFrame(() => live.replaceChildren(...nodes));
  }

  // Live updates (SPEC §8): a change made in another tab or on another device refreshes the list
  // shown and the switcher's counts. The page's own events stream (the session cookie signs it
  // in) resumes, page after page, after the last event this tab received.
  let refreshPending = false;

  function isBusy(region) {
    const active = document.activeElement;
    const editing =
      active instanceof HTMLElement && region.contains(active) && active.matches("input, textarea, select");
    return editing || dragged || document.querySelector("li[draggable], form[data-busy]");
  }

  async function refreshList() {
    const region = document.getElementById("task-region");
    if (!region) return;
    // Never under the user's hands: a row pressed or dragged, a form on its way, or a field
    // being typed in.
    if (isBusy(region)) {
      refreshPending = true;
      return;
    }
    refreshPending = false;
    let response;
    try {
      response = await fetch(location.href, { credentials: "same-origin" });
    } catch {
      return;
    }
    if (!response.ok || new URL(response.url).pathname !== location.pathname) return;
    const next = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = next.getElementById("task-region");
    const current = document.getElementById("task-region");
    if (!fresh || !current || refreshPending || isBusy(current)) return;
    localiseTimes(fresh);
    keepOpen(current, fresh);
    const links = next.getElementById("list-links");
    const shownLinks = document.getElementById("list-links");
    // This tab's own change is shown already: a list that did not change is left alone.
    const same = fresh.outerHTML === current.outerHTML;
    if (same && (!links || !shownLinks || links.outerHTML === shownLinks.outerHTML)) return;
    // Focus stays where it was: on the same control of the fresh list, when it is still there.
    const focused = focusSelector(document.activeElement);
    if (!same) current.replaceWith(document.adoptNode(fresh));
    if (links) shownLinks?.replaceWith(document.adoptNode(links));
    if (focused && document.activeElement === document.body) {
      document.querySelector(focused)?.focus({ preventScroll: true });
    }
  }

  // What the user opened (a subtask form) stays open in the fresh list.
  function keepOpen(current, fresh) {
    for (const details of current.querySelectorAll("details[open]")) {
      const named = details.querySelector("[id]");
      const twin = named && fresh.querySelector(`#${CSS.escape(named.id)}`)?.closest("details");
      if (twin) twin.open = true;
    }
  }

  // A selector that finds `element`'s counterpart in a freshly rendered list, if it has one.
  function focusSelector(element) {
    if (!(element instanceof HTMLElement) || element === document.body) return null;
    if (element.dataset.focusKey) return `[data-focus-key="${CSS.escape(element.dataset.focusKey)}"]`;
    if (element.id) return `#${CSS.escape(element.id)}`;
    if (element.matches("a.list-link[data-list-id]")) {
      return `a.list-link[data-list-id="${CSS.escape(element.dataset.listId)}"]`;
    }
    return null;
  }

  function followChanges() {
    const url = document.getElementById("task-region")?.dataset.events;
    if (!url || !window.EventSource) return;
    const key = `taskservice.events:${url}`;
    let timer = null;
    const open = (resume) => {
      const since = resume ? sessionStorage.getItem(key) : null;
      const source = new EventSource(since ? `${url}?since=${encodeURIComponent(since)}` : url);
      source.addEventListener("change", (event) => {
        if (event.lastEventId) sessionStorage.setItem(key, event.lastEventId);
        clearTimeout(timer);
        timer = setTimeout(refreshList, 100);
      });
      source.addEventListener("error", () => {
        // Refused for good (a cursor too old, or another account's): start from a full sync.
        if (source.readyState === EventSource.CLOSED && since) {
          sessionStorage.removeItem(key);
          open(false);
        }
      });
    };
    open(true);
    document.addEventListener("focusout", () => {
      if (refreshPending) setTimeout(refreshList, 0);
    });
    for (const done of ["dragend", "pointerup"]) {
      document.addEventListener(done, () => {
        if (refreshPending) setTimeout(refreshList, 0);
      });
    }
  }

  function start() {
    followChanges();
    setUpDueInputs(document);
    setUpCopyButtons(document);
    localiseTimes(document);
    announce();
    document.querySelector('[aria-invalid="true"]')?.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
