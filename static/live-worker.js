// live-worker.js holds the live connection of all of a browser's forum tabs:
// one EventSource for the topics of every open page. A browser opens at most
// six HTTP/1.1 connections to a host and an EventSource holds one for good,
// so with a connection per tab the seventh tab could not even load a page.
// It runs as a SharedWorker, or as a plain Worker serving one tab where
// there is no SharedWorker.
//
// A tab sends {type: "hello", user, topics, since, events} when its page
// loads and
// {type: "bye"} when it goes. events maps each event name to the topics it
// is sent on, as the server defines them ("{field}" stands for a field of
// the event's data). The worker answers with {type: "status",
// state} (live, reconnecting or offline), {type: "event", event, data} for
// each event of the tab's topics, and {type: "catchup"} when events may
// have been missed and the tab should fetch its page again. since is the
// id of the newest event when the server rendered the page: a connection
// that a new tab joins resumes from it, so that no event falls between the
// page and its first live event (tabs drop items they already show).
"use strict";

const FIRST_RETRY = 1000;
const MAX_RETRY = 15 * 1000;
// A tab that opens waits a moment for others opening with it; the topics of
// a tab that goes stay a while, for the next page of the same tab.
const GROW_DELAY = 50;
const SHRINK_DELAY = 2000;
// reset is the engine's own event, on every connection.
const RESET = "reset";
// MAX_TOPICS is the server's limit of topics per connection. Tabs beyond it
// stay without live updates rather than break the connection of the others.
const MAX_TOPICS = 16;

const tabs = new Map(); // port → {user, topics, since, fresh}
let user = null; // whose pages the connection serves: "" when signed out
let source = null; // the connection
let retiring = null; // the connection source replaces, until source is open
let topics = ""; // of source, sorted and comma-joined
let state = ""; // of source; "" before its first connection
let lastId = ""; // of the last event, to resume from
let retry = FIRST_RETRY;
let retryTimer = 0;
let updateTimer = 0;
let updateAt = 0;
let routes = {}; // event name → topic templates, from the newest page

function covered(tab) {
  const have = topics.split(",");
  return tab.topics.every((t) => have.includes(t));
}

function setState(s) {
  state = s;
  for (const [port, tab] of tabs) {
    if (covered(tab)) {
      port.postMessage({ type: "status", state });
    }
  }
}

// topicsOf returns the topics an event was sent on, filled in from its data.
function topicsOf(type, data) {
  return (routes[type] || []).map((t) => t.replace(/\{(\w+)\}/g, (_, field) => String(data[field])));
}

function route(type, text) {
  if (type === RESET) {
    for (const port of tabs.keys()) {
      port.postMessage({ type: "catchup" });
    }
    return;
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    console.warn("forum: event data is not JSON", type, text);
    return;
  }
  const topics = topicsOf(type, data);
  for (const [port, tab] of tabs) {
    if (topics.some((t) => tab.topics.includes(t))) {
      port.postMessage({ type: "event", event: type, data });
    }
  }
}

function closeAll() {
  clearTimeout(retryTimer);
  for (const es of [source, retiring]) {
    if (es) {
      es.close();
    }
  }
  source = retiring = null;
  topics = state = "";
}

// connect opens a connection for want. While the old one is live it serves
// until the new one opens, so no event falls between them; otherwise the new
// one resumes from the last event, or the tabs catch up once it is open.
function connect(want, from = "") {
  clearTimeout(retryTimer);
  const behind = state === "offline" || state === "reconnecting";
  if (retiring) {
    retiring.close();
  }
  retiring = source;
  topics = want;
  if (behind && lastId) {
    from = from ? oldest(lastId, from) : lastId;
  }
  let url = "/stream?topics=" + encodeURIComponent(want);
  if (from) {
    url += "&lastEventId=" + encodeURIComponent(from);
  }
  for (const tab of tabs.values()) {
    tab.fresh = false;
  }
  const es = new EventSource(url);
  source = es;
  let gap = behind && !lastId;
  let ownId = "";
  es.onopen = () => {
    if (es !== source) {
      return;
    }
    if (retiring) {
      retiring.close();
      retiring = null;
    }
    retry = FIRST_RETRY;
    setState("live");
    if (gap) {
      gap = false;
      for (const port of tabs.keys()) {
        port.postMessage({ type: "catchup" });
      }
    }
  };
  es.onerror = () => {
    if (es !== source) {
      return;
    }
    if (es.readyState !== EventSource.CLOSED) {
      // The browser reconnects by itself, sending this connection's last
      // event id if it has seen one; without one the server cannot resume.
      gap = ownId === "";
      setState("reconnecting");
      return;
    }
    setState("offline");
    retryTimer = setTimeout(() => connect(topics), retry * (0.75 + Math.random() / 2));
    retry = Math.min(retry * 2, MAX_RETRY);
  };
  for (const type of [RESET, ...Object.keys(routes)]) {
    es.addEventListener(type, (event) => {
      if (event.lastEventId) {
        ownId = lastId = event.lastEventId;
      }
      route(type, event.data);
    });
  }
}

// update makes the connection carry the topics of the open tabs, oldest
// first.
function update() {
  updateTimer = 0;
  const all = new Set();
  for (const tab of tabs.values()) {
    const more = tab.topics.filter((t) => !all.has(t));
    if (all.size + more.length <= MAX_TOPICS) {
      more.forEach((t) => all.add(t));
    }
  }
  const want = Array.from(all).sort().join(",");
  const from = resumeFrom(want !== topics);
  if (!want) {
    closeAll();
  } else if (want !== topics || from) {
    connect(want, from);
  }
}

// resumeFrom returns the oldest page id of the tabs that joined since the
// connection opened, if they need a connection that resumes from it: a new
// connection always does; the current one only if events newer than a
// tab's page went by before the tab joined.
function resumeFrom(newConnection) {
  let from = "";
  for (const tab of tabs.values()) {
    if (tab.fresh && tab.since && (newConnection || earlier(tab.since, lastId))) {
      from = from ? oldest(from, tab.since) : tab.since;
    }
  }
  return from;
}

// An event id has a part for each collection the server watches, joined by
// "."; each part sorts as text. A connection that resumes from an id gets
// every event after each of its parts.

// oldest returns the id that resumes from the older part of a and b in each
// collection, so that it misses nothing either would have had.
function oldest(a, b) {
  const pa = a.split("."), pb = b.split(".");
  if (pa.length !== pb.length) {
    return a < b ? a : b;
  }
  return pa.map((p, i) => (p < pb[i] ? p : pb[i])).join(".");
}

// earlier reports whether a is behind b in some collection.
function earlier(a, b) {
  const pa = a.split("."), pb = b.split(".");
  if (pa.length !== pb.length) {
    return a < b;
  }
  return pa.some((p, i) => p < pb[i]);
}

function schedule(delay) {
  const at = Date.now() + delay;
  if (updateTimer && updateAt <= at) {
    return;
  }
  clearTimeout(updateTimer);
  updateAt = at;
  updateTimer = setTimeout(update, delay);
}

function hello(port, msg) {
  if (msg.user !== user) {
    // The newest page tells who is signed in now; the pages of anyone else
    // are stale and must not get this user's events.
    user = msg.user;
    closeAll();
    for (const [other, tab] of tabs) {
      if (tab.user !== user) {
        tabs.delete(other);
        other.postMessage({ type: "status", state: "offline" });
      }
    }
  }
  if (msg.events && typeof msg.events === "object") {
    routes = msg.events;
  }
  const tab = { user: msg.user, topics: msg.topics, since: msg.since || "", fresh: true };
  tabs.set(port, tab);
  if (state && covered(tab)) {
    port.postMessage({ type: "status", state });
  }
  schedule(GROW_DELAY);
}

function bye(port) {
  tabs.delete(port);
  schedule(SHRINK_DELAY);
}

function attach(port) {
  port.onmessage = (event) => {
    const msg = event.data;
    if (msg.type === "hello") {
      hello(port, msg);
    } else if (msg.type === "bye") {
      bye(port);
    }
  };
}

if (typeof SharedWorkerGlobalScope !== "undefined" && self instanceof SharedWorkerGlobalScope) {
  self.onconnect = (event) => attach(event.ports[0]);
} else {
  attach(self);
}
