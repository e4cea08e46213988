// The console works without this file; it only makes a few things quicker. No inline scripts anywhere
// (the Content-Security-Policy forbids them), nothing fetched from elsewhere.
(function () {
  "use strict";
  // "/" jumps to the search box, as on many sites.
  document.addEventListener("keydown", function (event) {
    var box = document.getElementById("q");
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement && document.activeElement.tagName);
    if (event.key === "/" && box && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });
  // A new order applies at once (without JavaScript, the Apply button does it).
  var sort = document.getElementById("sort");
  if (sort && sort.form) {
    sort.addEventListener("change", function () { sort.form.submit(); });
  }
  // Times in the reader's own time zone; the page says UTC without JavaScript.
  var times = document.querySelectorAll("time[datetime]");
  for (var i = 0; i < times.length; i++) {
    var moment = new Date(times[i].getAttribute("datetime"));
    if (!isNaN(moment.getTime())) {
      times[i].title = times[i].textContent;
      times[i].textContent = moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    }
  }
})();
