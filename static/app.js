// app.js makes the forum's pages live. Every page works without it; with it,
// new posts, comments and notifications appear as they happen, counters stay
// current and times read as "5 minutes ago". The only HTML it inserts is the
// server's own: the "html" field of an event, rendered and escaped by the
// templates, or a fresh copy of the current page.
(function () {
  "use strict";

  // A reader scrolled less than this many pixels is at the top of the page.
  const TOP = 100;
  const TICK = 30 * 1000;
  const FIRST_RETRY = 1000;
  const MAX_RETRY = 60 * 1000;

  const UNITS = [
    ["year", 365 * 86400],
    ["month", 30 * 86400],
    ["week", 7 * 86400],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];

  const STATUS_LABELS = {
    live: "Live",
    reconnecting: "Reconnecting…",
    offline: "Offline",
  };

  // Relative times.

  function relative(ms) {
    const seconds = Math.floor((Date.now() - ms) / 1000);
    for (const [unit, size] of UNITS) {
      if (seconds >= size) {
        const n = Math.floor(seconds / size);
        return n + " " + unit + (n === 1 ? "" : "s") + " ago";
      }
    }
    return "just now";
  }

  // updateTimes rewrites every <time datetime> under root as a relative time;
  // its title keeps the exact one.
  function updateTimes(root) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      const ms = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(ms)) {
        el.textContent = relative(ms);
      }
    }
  }

  // Live items.

  function fragment(html) {
    if (typeof html !== "string") {
      return null;
    }
    const template = document.createElement("template");
    template.innerHTML = html; // rendered and escaped by the server's templates
    const item = template.content.firstElementChild;
    return item && item.id ? item : null;
  }

  function created(el) {
    return Date.parse(el.dataset.created) || 0;
  }

  function highlight(el) {
    el.classList.add("is-new");
    el.addEventListener("animationend", () => el.classList.remove("is-new"), { once: true });
  }

  // insert puts item into list in order of creation, newest first or last, so
  // an item that arrives late still lands in its place.
  function insert(list, item, newestFirst) {
    const t = created(item);
    let before;
    if (newestFirst) {
      before = Array.from(list.children).find((el) => created(el) < t) || null;
    } else {
      let prev = list.lastElementChild;
      while (prev && created(prev) > t) {
        prev = prev.previousElementSibling;
      }
      before = prev ? prev.nextElementSibling : list.firstElementChild;
    }
    list.insertBefore(item, before);
    updateTimes(item);
    highlight(item);
  }

  // Posts that arrive while the reader is further down the page wait behind
  // a "N new posts" bar rather than push the page around.
  const pendingPosts = new Map();
  let newPostsBar = null;

  function onPost(data) {
    const list = document.getElementById("posts");
    const item = list && fragment(data.html);
    if (!item || document.getElementById(item.id) || pendingPosts.has(item.id)) {
      return;
    }
    pendingPosts.set(item.id, item);
    if (window.scrollY < TOP) {
      showPendingPosts();
    } else {
      updateNewPostsBar();
    }
  }

  function showPendingPosts() {
    const list = document.getElementById("posts");
    for (const item of pendingPosts.values()) {
      if (list && !document.getElementById(item.id)) {
        insert(list, item, true);
      }
    }
    pendingPosts.clear();
    updateNewPostsBar();
  }

  function updateNewPostsBar() {
    const n = pendingPosts.size;
    if (n === 0) {
      if (newPostsBar) {
        newPostsBar.remove();
        newPostsBar = null;
      }
      return;
    }
    if (!newPostsBar) {
      newPostsBar = document.createElement("button");
      newPostsBar.type = "button";
      newPostsBar.className = "new-posts-bar";
      newPostsBar.dataset.testid = "new-posts-bar";
      newPostsBar.addEventListener("click", () => {
        showPendingPosts();
        window.scrollTo(0, 0);
      });
      document.getElementById("posts").before(newPostsBar);
    }
    newPostsBar.textContent = n + (n === 1 ? " new post" : " new posts");
  }

  function onComment(data) {
    const list = document.getElementById("comments");
    const post = document.getElementById("post");
    if (!list || (post && data.postId && post.dataset.id !== data.postId)) {
      return;
    }
    const item = fragment(data.html);
    if (item && !document.getElementById(item.id)) {
      insert(list, item, false);
    }
  }

  function onNotification(data) {
    const list = document.getElementById("notifications");
    const item = list && fragment(data.html);
    if (item && !document.getElementById(item.id)) {
      insert(list, item, true);
    }
  }

  // Counters.

  function setUnread(count) {
    const badge = document.getElementById("unread-badge");
    if (!badge || !Number.isFinite(count)) {
      return;
    }
    badge.textContent = String(count);
    badge.hidden = count <= 0;
  }

  function setStat(name, value) {
    for (const el of document.querySelectorAll('[data-stat="' + name + '"]')) {
      el.textContent = String(value);
    }
  }

  // rows flattens the streams counts, whatever their nesting, into
  // [name, count] pairs: {"posts": 2, "users": {"a": 1}} gives
  // [["posts", 2], ["users.a", 1]].
  function rows(value, name, out) {
    if (value !== null && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        rows(inner, name ? name + "." + key : key, out);
      }
    } else {
      out.push([name || "open", value]);
    }
    return out;
  }

  function renderStreams(list, streams) {
    const items = [];
    for (const [name, count] of rows(streams, "", [])) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = String(count);
      items.push(dt, dd);
    }
    list.replaceChildren(...items);
  }

  function onStats(data) {
    for (const name of ["users", "posts", "comments"]) {
      if (Number.isFinite(data[name])) {
        setStat(name, data[name]);
      }
    }
    const streams = document.querySelector('[data-stat="streams"]');
    if (streams && data.streams !== undefined) {
      renderStreams(streams, data.streams);
    }
    const at = document.querySelector('time[data-stat="at"]');
    const ms = Date.parse(data.at);
    if (at && !Number.isNaN(ms)) {
      at.setAttribute("datetime", data.at);
      at.title = new Date(ms).toLocaleString();
      at.textContent = relative(ms);
      at.parentElement.hidden = false;
    }
  }

  // Catching up: after a reset, or a new connection that could not resume,
  // the live parts of the page are replaced by a fresh copy. Forms are left
  // alone, so what the reader is typing survives.

  let refreshing = false;
  let refreshAgain = false;

  async function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    try {
      const res = await fetch(location.href, {
        headers: { Accept: "text/html" },
        cache: "no-store",
      });
      if (res.ok) {
        replaceLive(new DOMParser().parseFromString(await res.text(), "text/html"));
      }
    } catch (err) {
      console.warn("forum: refresh failed", err);
    } finally {
      refreshing = false;
      if (refreshAgain) {
        refreshAgain = false;
        refresh();
      }
    }
  }

  function replaceLive(fresh) {
    for (const id of ["posts", "comments", "notifications"]) {
      const here = document.getElementById(id);
      const there = fresh.getElementById(id);
      if (here && there) {
        here.replaceChildren(...there.childNodes);
        updateTimes(here);
      }
    }
    for (const id of pendingPosts.keys()) {
      if (document.getElementById(id)) {
        pendingPosts.delete(id);
      }
    }
    updateNewPostsBar();
    for (const name of ["users", "posts", "comments"]) {
      const there = fresh.querySelector('[data-stat="' + name + '"]');
      if (there) {
        setStat(name, there.textContent);
      }
    }
    const badge = fresh.getElementById("unread-badge");
    if (badge) {
      setUnread(Number(badge.textContent));
    }
  }

  // The connection.

  const handlers = {
    post: onPost,
    comment: onComment,
    notification: onNotification,
    unread: (data) => setUnread(data.count),
    stats: onStats,
    reset: () => refresh(),
  };

  function parse(text) {
    try {
      const data = JSON.parse(text);
      return data !== null && typeof data === "object" ? data : null;
    } catch {
      console.warn("forum: event data is not JSON", text);
      return null;
    }
  }

  function setStatus(state) {
    const el = document.getElementById("live-status");
    if (el) {
      el.dataset.state = state;
      el.textContent = STATUS_LABELS[state];
      el.hidden = false;
    }
  }

  // connect opens one EventSource for the page's topics. The browser
  // reconnects by itself, resuming from the last event id; when it gives up
  // (the source is closed), a new one is opened after a growing delay, and
  // since a new source cannot resume, the page catches up once it is open.
  function connect(topics) {
    let delay = FIRST_RETRY;

    function open(catchUp) {
      const source = new EventSource("/stream?topics=" + encodeURIComponent(topics));
      source.onopen = () => {
        delay = FIRST_RETRY;
        setStatus("live");
        if (catchUp) {
          catchUp = false;
          refresh();
        }
      };
      source.onerror = () => {
        if (source.readyState !== EventSource.CLOSED) {
          setStatus("reconnecting");
          return;
        }
        setStatus("offline");
        setTimeout(() => open(true), delay * (0.75 + Math.random() / 2));
        delay = Math.min(delay * 2, MAX_RETRY);
      };
      for (const [type, handle] of Object.entries(handlers)) {
        source.addEventListener(type, (event) => {
          const data = parse(event.data);
          if (data) {
            handle(data);
          }
        });
      }
    }

    open(false);
  }

  updateTimes(document);
  setInterval(() => updateTimes(document), TICK);

  const topics = (document.body.dataset.topics || "").trim();
  if (topics && "EventSource" in window) {
    connect(topics);
  }
})();
