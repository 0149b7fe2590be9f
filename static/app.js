// app.js makes the forum's pages live. Every page works without it; with it,
// new posts, comments and notifications appear as they happen, counters stay
// current and times read as "5 minutes ago". The events come through
// live-worker.js, which holds one connection for all of the forum's tabs.
// The only HTML it inserts is the server's own: the "html" field of an
// event, rendered and escaped by the templates, or a fresh copy of the page.
(function () {
  "use strict";

  // A reader scrolled less than this many pixels is at the top of the page.
  const TOP = 100;
  const TICK = 30 * 1000;

  const UNITS = [
    ["year", 365 * 86400],
    ["month", 30 * 86400],
    ["week", 7 * 86400],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];

  // NEWEST_FIRST tells how each live list, by id, is ordered.
  const NEWEST_FIRST = { posts: true, comments: false, notifications: true };

  // STATS are the totals on the statistics page, by data-stat.
  const STATS = ["users", "posts", "comments"];

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
  // its title keeps the exact one, in the reader's time zone (the server
  // can only write UTC).
  function updateTimes(root) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      const ms = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(ms)) {
        el.textContent = relative(ms);
        el.title = new Date(ms).toLocaleString();
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

  function activity(el) {
    return Date.parse(el.dataset.activity) || created(el);
  }

  function highlight(el) {
    el.classList.add("is-new");
    el.addEventListener("animationend", () => el.classList.remove("is-new"), { once: true });
  }

  // place puts item into list in order of creation, so an item that arrives
  // late still lands in its place.
  function place(list, item) {
    // The front page sorted by activity orders its cards by their latest.
    const key = list.dataset.sort === "activity" ? activity : created;
    const t = key(item);
    let before;
    if (NEWEST_FIRST[list.id]) {
      before = Array.from(list.children).find((el) => key(el) < t) || null;
    } else {
      let prev = list.lastElementChild;
      while (prev && created(prev) > t) {
        prev = prev.previousElementSibling;
      }
      before = prev ? prev.nextElementSibling : list.firstElementChild;
    }
    list.insertBefore(item, before);
    updateTimes(item);
  }

  function insert(list, item) {
    place(list, item);
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
      // A thread with new activity moves from where it was.
      const old = document.getElementById(item.id);
      if (old && old !== item) {
        old.remove();
      }
      if (list && !list.contains(item)) {
        insert(list, item);
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
    const active = Array.from(pendingPosts.keys()).filter((id) => document.getElementById(id)).length;
    newPostsBar.textContent = active === 0
      ? n + (n === 1 ? " new post" : " new posts")
      : n + (n === 1 ? " thread" : " threads") + " with new activity";
  }

  // Edits, locks and deletions (events post-updated, post-deleted,
  // comment-updated and comment-deleted) change what the page shows in
  // place.

  // showControls shows the edit and delete buttons of the comments under
  // root to their author and to admins: a live comment is rendered for
  // every reader, with them hidden. The server decides what is allowed.
  function showControls(root) {
    if (!root) {
      return;
    }
    const { user = "" } = document.body.dataset;
    const admin = document.body.hasAttribute("data-admin");
    for (const el of root.querySelectorAll(".controls[data-author]")) {
      el.hidden = !(admin || (user !== "" && el.dataset.author === user));
    }
  }

  function onPostUpdated(data) {
    updateThread(data);
    const list = document.getElementById("posts");
    const item = list && fragment(data.html);
    if (!item) {
      return;
    }
    if (pendingPosts.has(item.id)) {
      pendingPosts.set(item.id, item);
      return;
    }
    const old = document.getElementById(item.id);
    const moved = list.dataset.sort === "activity" && (!old || activity(item) > activity(old));
    if (!moved) {
      if (old) {
        old.replaceWith(item);
        updateTimes(item);
      }
      return;
    }
    if (window.scrollY < TOP) {
      if (old) {
        old.remove();
      }
      insert(list, item);
      return;
    }
    if (old) {
      // Its count changes where it is until the reader shows the bar's.
      const here = item.cloneNode(true);
      old.replaceWith(here);
      updateTimes(here);
    }
    pendingPosts.set(item.id, item);
    updateNewPostsBar();
  }

  function onPostDeleted(data) {
    const id = "post-" + data.id;
    const card = document.getElementById(id);
    if (card) {
      card.remove();
    }
    if (pendingPosts.delete(id)) {
      updateNewPostsBar();
    }
    const thread = document.getElementById("post");
    if (thread && thread.dataset.id === data.id) {
      const note = document.createElement("p");
      note.className = "deleted-notice";
      note.dataset.testid = "post-deleted";
      note.textContent = "This post was deleted.";
      thread.replaceChildren(note);
      const section = document.getElementById("comments-section");
      if (section) {
        section.hidden = true;
      }
      // The thread's topic is gone (a new stream of it answers 404): the
      // tab leaves the shared connection rather than break it for all.
      leaveLive();
    }
  }

  // updateThread applies a change of the thread's own post: its lock at
  // once, and an edit or a lock by a fresh copy of the post, rendered as
  // the server renders it.
  function updateThread(data) {
    const thread = document.getElementById("post");
    const section = document.getElementById("comments-section");
    if (!thread || !section || thread.dataset.id !== data.id) {
      return;
    }
    const locked = data.locked === true;
    const edited = (Date.parse(data.editedAt) || 0) !== (Date.parse(thread.dataset.edited) || 0);
    const relock = locked !== section.hasAttribute("data-locked");
    section.toggleAttribute("data-locked", locked);
    const form = section.querySelector('[data-testid="comment-form"]');
    if (form) {
      form.hidden = locked;
    }
    const notice = document.getElementById("locked-notice");
    if (notice) {
      notice.hidden = !locked;
    }
    if (edited || relock) {
      refreshThreadPost();
    }
  }

  async function refreshThreadPost() {
    try {
      const res = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (!res.ok) {
        return;
      }
      const fresh = new DOMParser().parseFromString(await res.text(), "text/html").getElementById("post");
      const here = document.getElementById("post");
      if (fresh && here && here.dataset.id === fresh.dataset.id) {
        here.replaceWith(fresh);
        updateTimes(fresh);
      }
    } catch (err) {
      console.warn("forum: refresh of the post failed", err);
    }
  }

  function onCommentUpdated(data) {
    const item = fragment(data.html);
    const old = item && document.getElementById(item.id);
    if (old) {
      old.replaceWith(item);
      updateTimes(item);
      showControls(item);
    }
  }

  function onCommentDeleted(data) {
    const old = document.getElementById("comment-" + data.id);
    if (old) {
      old.remove();
    }
  }

  // Comments land on the last page of a thread. A page before it has a
  // hidden link to the last page (#new-comments), which counts them
  // instead, by id, as events can come again after a reconnection.
  const newComments = new Set();

  function onComment(data) {
    const list = document.getElementById("comments");
    const post = document.getElementById("post");
    if (!list || (post && data.postId && post.dataset.id !== data.postId)) {
      return;
    }
    const item = fragment(data.html);
    if (!item || document.getElementById(item.id)) {
      return;
    }
    const link = document.getElementById("new-comments");
    if (link) {
      countNewComment(link, item.id);
    } else {
      insert(list, item);
    }
  }

  // countNewComment shows how many comments arrived, linking to the page
  // that ends the thread with them.
  function countNewComment(link, id) {
    newComments.add(id);
    const n = newComments.size;
    const last = Math.ceil((Number(link.dataset.comments) + n) / Number(link.dataset.perPage));
    link.href = link.pathname + "?page=" + last;
    link.textContent = n + (n === 1 ? " new comment" : " new comments");
    link.parentElement.hidden = false;
  }

  // Character counters. A field with data-max-chars shows, once it is
  // within a tenth of its limit, how many characters are left, counted as
  // the server counts them: code points of the trimmed text, not the UTF-16
  // units of String.length.

  const NEAR_LIMIT = 0.1;
  const count = new Intl.NumberFormat("en");

  function codePoints(s) {
    let n = 0;
    for (const _ of s) {
      n++;
    }
    return n;
  }

  function characters(n) {
    return count.format(n) + (n === 1 ? " character" : " characters");
  }

  function updateCounter(field, counter) {
    const max = Number(field.dataset.maxChars);
    const left = max - codePoints(field.value.trim());
    counter.hidden = left > max * NEAR_LIMIT;
    counter.classList.toggle("is-over", left < 0);
    counter.textContent = left < 0 ? characters(-left) + " too many" : characters(left) + " left";
    field.setCustomValidity(left < 0 ? "Shorten this to at most " + characters(max) + "." : "");
  }

  for (const field of document.querySelectorAll("[data-max-chars]")) {
    const counter = document.getElementById(field.id + "-counter");
    if (counter) {
      field.addEventListener("input", () => updateCounter(field, counter));
      updateCounter(field, counter);
    }
  }

  // onNotification shows a new notification on the newest page of the
  // list, and marks it read at once when it is about the thread on screen.
  function onNotification(data) {
    const list = document.getElementById("notifications");
    const item = list && !list.hasAttribute("data-older") && fragment(data.html);
    if (item && !document.getElementById(item.id)) {
      insert(list, item);
    }
    const post = document.getElementById("post");
    if (post && post.dataset.id === data.postId && !data.read) {
      unseen.add(data.id);
      markSeen();
    }
  }

  // Notifications about the open thread are marked read while the reader
  // can see it: at once, or when the tab comes to the front. An id whose
  // marking fails is tried again then.
  const READ_URL = "/api/notifications/read";
  const unseen = new Set();

  async function markSeen() {
    if (document.visibilityState !== "visible" || unseen.size === 0) {
      return;
    }
    const ids = Array.from(unseen);
    unseen.clear();
    try {
      const res = await fetch(READ_URL, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ids }),
      });
      if (!res.ok) {
        throw new Error("status " + res.status);
      }
    } catch (err) {
      console.warn("forum: marking notifications read failed", err);
      ids.forEach((id) => unseen.add(id));
    }
  }

  document.addEventListener("visibilitychange", markSeen);

  // Counters.

  // setUnread shows the count of unread notifications in the badge and the
  // tab's title, and offers "Mark all read" only while there are some.
  function setUnread(count) {
    const badge = document.getElementById("unread-badge");
    if (!badge || !Number.isFinite(count)) {
      return;
    }
    badge.textContent = String(count);
    badge.hidden = count <= 0;
    const title = document.title.replace(/^\(\d+\) /, "");
    document.title = count > 0 ? "(" + count + ") " + title : title;
    const markAll = document.getElementById("mark-all-read");
    if (markAll) {
      markAll.hidden = count <= 0;
    }
  }

  function setStat(name, value) {
    for (const el of document.querySelectorAll('[data-stat="' + name + '"]')) {
      el.textContent = String(value);
    }
  }

  // renderStreams lists the open streams by kind, from {"posts": 2, ...}.
  function renderStreams(list, streams) {
    const items = [];
    for (const [kind, count] of Object.entries(streams)) {
      const dt = document.createElement("dt");
      dt.textContent = kind;
      const dd = document.createElement("dd");
      dd.textContent = String(count);
      items.push(dt, dd);
    }
    list.replaceChildren(...items);
  }

  function onStats(data) {
    for (const name of STATS) {
      if (Number.isFinite(data[name])) {
        setStat(name, data[name]);
      }
    }
    const streams = document.querySelector('[data-stat="streams"]');
    if (streams && data.streams !== null && typeof data.streams === "object") {
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

  // Presence: who reads the thread, who is replying, who is online. The
  // events are state, sent at connect and on change; each replaces what
  // its line shows. The lines are aria-live regions, so a change is read
  // out, and only a change: the same text is not written again.

  // TYPING_EVERY is how often, at most, the comment form says that its
  // writer is typing; the server keeps a typer for 8 s after the last.
  const TYPING_EVERY = 3000;

  // sentence joins names: "ann", "ann and ben", "ann, ben and cy".
  function sentence(names) {
    if (names.length <= 1) {
      return names.join("");
    }
    return names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
  }

  function setText(el, text) {
    if (el.textContent !== text) {
      el.textContent = text;
    }
  }

  function onPresence(data) {
    const el = document.getElementById("presence");
    if (!el || el.dataset.post !== data.postId || !Number.isFinite(data.viewers)) {
      return;
    }
    const names = Array.isArray(data.replying) ? data.replying.map(String) : [];
    let text = data.viewers + " reading";
    if (names.length > 0) {
      text += " · " + sentence(names) + (names.length === 1 ? " is" : " are") + " replying…";
    }
    setText(el, text);
  }

  function onOnline(data) {
    const el = document.getElementById("online");
    if (!el || !Number.isFinite(data.users) || !Number.isFinite(data.guests)) {
      return;
    }
    setText(el, data.users + data.guests + " online");
    el.title = data.users + " signed in, " + data.guests + (data.guests === 1 ? " guest" : " guests");
  }

  // watchTyping tells the server, while the comment field changes, that
  // its writer is typing.
  function watchTyping(form) {
    const field = form.querySelector("textarea");
    let last = 0;
    if (!field) {
      return;
    }
    field.addEventListener("input", () => {
      const now = Date.now();
      if (now - last < TYPING_EVERY) {
        return;
      }
      last = now;
      fetch(form.dataset.typingUrl, { method: "POST", credentials: "same-origin" }).catch(() => {});
    });
  }

  for (const form of document.querySelectorAll("form[data-typing-url]")) {
    watchTyping(form);
  }

  // Catching up: after a reset, or a connection that could not resume, the
  // live lists of the page are replaced by a fresh copy; items that arrived
  // while it was on its way, newer than all of it, stay. Forms are left
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
    for (const id of Object.keys(NEWEST_FIRST)) {
      const here = document.getElementById(id);
      const there = fresh.getElementById(id);
      if (here && there) {
        const newest = Math.max(0, ...Array.from(there.children, created));
        const later = Array.from(here.children).filter((el) => created(el) > newest);
        here.replaceChildren(...there.childNodes);
        for (const item of later) {
          place(here, item);
        }
        updateTimes(here);
      }
    }
    for (const id of pendingPosts.keys()) {
      if (document.getElementById(id)) {
        pendingPosts.delete(id);
      }
    }
    updateNewPostsBar();
    for (const name of STATS) {
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

  // Replies. A comment's Reply link leads, without the script, to the
  // comment form of its page set to reply; with it, the form on this page
  // is set in place. A link to the comment replied to scrolls to it when it
  // is on this page.

  function setReply(id, author) {
    const field = document.getElementById("reply-to");
    const note = document.getElementById("replying-to");
    const link = document.getElementById("replying-to-link");
    if (!field || !note || !link) {
      return false;
    }
    field.value = id;
    note.hidden = id === "";
    link.textContent = author;
    link.href = "#comment-" + id;
    return true;
  }

  function onClick(event) {
    const reply = event.target.closest("a[data-reply]");
    if (reply && setReply(reply.dataset.reply, reply.dataset.author)) {
      event.preventDefault();
      document.getElementById("comment-form").scrollIntoView({ block: "nearest" });
      document.getElementById("comment-body").focus();
      return;
    }
    if (event.target.closest("#reply-cancel") && setReply("", "")) {
      event.preventDefault();
      return;
    }
    const ref = event.target.closest("a[data-reply-to]");
    const target = ref && document.getElementById("comment-" + ref.dataset.replyTo);
    if (target) {
      event.preventDefault();
      target.scrollIntoView({ block: "center" });
      highlight(target);
    }
  }

  document.addEventListener("click", onClick);

  // Forms with data-api are sent to that API address, so that when the
  // server cannot be reached the text stays in the form with a message
  // instead of the browser's error page. On success the page goes where
  // the form's own answer would have led: data-then followed by the new
  // item's id. Without the script the form posts as usual.

  const UNREACHABLE = "The server could not be reached. Your text is kept here: try again in a moment.";

  function showFormError(form, message) {
    let el = form.querySelector('[data-testid="form-error"]');
    if (!el) {
      el = document.createElement("p");
      el.className = "error";
      el.setAttribute("role", "alert");
      el.dataset.testid = "form-error";
      form.prepend(el);
    }
    el.textContent = message;
  }

  // fields returns a form's named fields that are filled in, as the API
  // takes them.
  function fields(form) {
    const out = {};
    for (const el of form.elements) {
      if (el.name && el.value !== "") {
        out[el.name] = el.value;
      }
    }
    return out;
  }

  async function submitByAPI(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) {
      return;
    }
    event.preventDefault();
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    try {
      let res;
      try {
        res = await fetch(form.dataset.api, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(fields(form)),
        });
      } catch {
        showFormError(form, UNREACHABLE);
        return;
      }
      const data = await res.json().catch(() => null);
      if (res.ok && data && data.id) {
        location.assign(form.dataset.then + data.id);
        return;
      }
      showFormError(form, (data && data.error) || "The server could not take this (" + res.status + "). Your text is kept here.");
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("submit", submitByAPI);

  // The connection, shared by all of the browser's tabs of the forum (see
  // live-worker.js).

  const handlers = {
    post: onPost,
    "post-updated": onPostUpdated,
    "post-deleted": onPostDeleted,
    comment: (data) => {
      onComment(data);
      showControls(document.getElementById("comment-" + data.id));
    },
    "comment-updated": onCommentUpdated,
    "comment-deleted": onCommentDeleted,
    notification: onNotification,
    unread: (data) => setUnread(data.count),
    stats: onStats,
    presence: onPresence,
    online: onOnline,
  };

  function setStatus(state) {
    const el = document.getElementById("live-status");
    if (el) {
      el.dataset.state = state;
      el.textContent = STATUS_LABELS[state];
      el.hidden = false;
    }
  }

  function receive(msg) {
    switch (msg.type) {
      case "status":
        setStatus(msg.state);
        break;
      case "catchup":
        refresh();
        break;
      case "event":
        if (handlers[msg.event]) {
          handlers[msg.event](msg.data);
        }
        break;
    }
  }

  // connect joins the live connection of the forum's tabs, again when the
  // page comes back from the back-forward cache, and leaves it when the
  // page goes.
  let leaveLive = () => {};

  function connect(workerURL, user, topics, since, events) {
    let port = null;
    leaveLive = () => port.postMessage({ type: "bye" });
    function join() {
      const worker = window.SharedWorker
        ? new SharedWorker(workerURL, { name: "forum-live" })
        : new Worker(workerURL, { name: "forum-live" });
      port = worker.port || worker;
      port.onmessage = (event) => receive(event.data);
      port.postMessage({ type: "hello", user, topics, since, events });
    }
    join();
    window.addEventListener("pagehide", () => port.postMessage({ type: "bye" }));
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) {
        join();
        refresh();
      }
    });
  }

  updateTimes(document);
  setInterval(() => updateTimes(document), TICK);

  const { liveWorker, user = "", topics = "", lastEventId = "", events = "{}" } = document.body.dataset;
  const names = topics.split(/[\s,]+/).filter(Boolean);
  if (liveWorker && names.length > 0 && window.Worker) {
    connect(liveWorker, user, names, lastEventId, JSON.parse(events));
  }
})();
