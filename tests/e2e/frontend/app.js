// Calls the task API the way the Next.js + Better Auth frontends of this contract do: from its
// own origin, with `fetch` and the bearer token that a script-readable cookie holds, expecting
// the plain style (a list is an array, errors carry `detail`) and toggling with no body.
"use strict";

const api = new URL(location.href).searchParams.get("api");
const token = document.cookie
  .split("; ")
  .find((c) => c.startsWith("auth_token="))
  ?.slice("auth_token=".length);
const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
const tasksUrl = `${api}/api/${encodeURIComponent(claims.sub)}/tasks`;

async function call(url, options = {}) {
  const response = await fetch(url, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, ...(options.headers || {}) },
  });
  const body = await response.json();
  if (!response.ok) {
    throw new Error(body.detail);
  }
  return { body, headers: response.headers };
}

function taskItem(task) {
  const item = document.createElement("li");
  item.className = task.completed ? "task done" : "task";
  const title = document.createElement("span");
  title.className = "title";
  title.textContent = task.title;
  const toggle = document.createElement("button");
  toggle.className = "toggle";
  toggle.textContent = task.completed ? "Mark incomplete" : "Mark complete";
  toggle.addEventListener("click", () =>
    act(() => call(`${tasksUrl}/${task.id}/complete`, { method: "PATCH" })),
  );
  const remove = document.createElement("button");
  remove.className = "delete";
  remove.textContent = "Delete";
  remove.addEventListener("click", () =>
    act(() => call(`${tasksUrl}/${task.id}`, { method: "DELETE" })),
  );
  item.append(title, toggle, remove);
  return item;
}

async function load() {
  const { body: tasks, headers } = await call(tasksUrl);
  document.getElementById("tasks").replaceChildren(...tasks.map(taskItem));
  const pending = headers.get("X-Pending-Count");
  const completed = headers.get("X-Completed-Count");
  document.getElementById("counts").textContent = `${pending} pending · ${completed} completed`;
}

async function act(change) {
  const error = document.getElementById("error");
  try {
    await change();
    error.textContent = "";
    await load();
  } catch (failure) {
    error.textContent = failure.message;
  }
}

document.getElementById("new-task").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("title");
  act(async () => {
    await call(tasksUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ title: input.value }),
    });
    input.value = "";
  });
});

act(() => Promise.resolve());
