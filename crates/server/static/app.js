// Media lessons: resume where you left off, save the position as you
// watch, mark the lesson complete at the end and go on to the next one.
// Pages work without this script; it only adds the media behaviour.
"use strict";
(function () {
  const media = document.getElementById("media");
  const token = document.querySelector('meta[name="csrf-token"]');
  if (!media || !token) return;
  const id = media.dataset.file;
  const save = (body) =>
    fetch(`/api/files/${id}/progress`, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: true,
      headers: { "content-type": "application/json", "x-csrf-token": token.content },
      body: JSON.stringify(body),
    }).catch(() => {});

  const resume = parseFloat(media.dataset.resume || "0");
  media.addEventListener("loadedmetadata", () => {
    if (resume > 0 && resume < media.duration - 2) media.currentTime = resume;
  });

  let saved = 0;
  media.addEventListener("timeupdate", () => {
    if (Math.abs(media.currentTime - saved) >= 10) {
      saved = media.currentTime;
      save({ position_seconds: media.currentTime });
    }
  });
  media.addEventListener("pause", () => save({ position_seconds: media.currentTime }));

  const autoplay = document.getElementById("autoplay");
  if (autoplay) {
    autoplay.checked = localStorage.getItem("lectern.autoplay") !== "off";
    autoplay.addEventListener("change", () =>
      localStorage.setItem("lectern.autoplay", autoplay.checked ? "on" : "off"));
  }
  media.addEventListener("ended", async () => {
    await save({ position_seconds: 0, completed: true });
    const next = media.dataset.next;
    if (next && autoplay && autoplay.checked) location.assign(next + "?autoplay=1");
    else location.reload();
  });
  if (new URLSearchParams(location.search).has("autoplay")) media.play().catch(() => {});
})();
