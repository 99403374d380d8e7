// webkit runserver's live-reload client (LiveReload protocol 7), injected in development only.
// Reloads the page once the restarted app serves, swaps changed stylesheets and images in place.
(function () {
  "use strict";
  if (window.__webkitLiveReload) return; // injected twice (e.g. a page that includes a page)
  window.__webkitLiveReload = true;

  var PROTOCOL = "http://livereload.com/protocols/official-7";
  var IMAGE = /\.(png|jpe?g|gif|svg|webp|avif|ico)$/i;
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var url = scheme + location.host + "/_webkit/livereload";
  var delay = 250; // reconnect backoff, doubled up to 5 s, reset once connected
  var announced = false;

  function fileName(path) {
    var clean = String(path).split(/[?#]/)[0];
    return clean.slice(clean.lastIndexOf("/") + 1);
  }

  function bust(href) {
    var base = href.replace(/([?&])livereload=\d+&?/, "$1").replace(/[?&]$/, "");
    return base + (base.indexOf("?") < 0 ? "?" : "&") + "livereload=" + Date.now();
  }

  function swapStylesheets(path) {
    var name = fileName(path);
    var links = Array.prototype.filter.call(
      document.querySelectorAll('link[rel~="stylesheet"][href]'),
      function (link) { return !link.__webkitReplaced; }
    );
    var matching = links.filter(function (link) { return fileName(link.href) === name; });
    // A stylesheet reached through @import or renamed by a build step: refresh them all.
    (matching.length ? matching : links).forEach(function (link) {
      var fresh = link.cloneNode(false);
      fresh.href = bust(link.href);
      link.__webkitReplaced = true;
      // The old sheet stays until the new one has loaded, so the page never flashes unstyled.
      fresh.addEventListener("load", function () { link.remove(); });
      fresh.addEventListener("error", function () { link.remove(); });
      link.after(fresh);
    });
    return links.length > 0;
  }

  function swapImages(path) {
    var name = fileName(path);
    var found = false;
    Array.prototype.forEach.call(document.images, function (img) {
      if (fileName(img.src) === name) {
        img.src = bust(img.src);
        found = true;
      }
    });
    return found;
  }

  function reload(message) {
    var path = message.path || "";
    if (message.liveCSS !== false && /\.css$/i.test(fileName(path)) && swapStylesheets(path)) {
      return;
    }
    if (message.liveImg !== false && IMAGE.test(fileName(path)) && swapImages(path)) {
      return;
    }
    location.reload();
  }

  function connect() {
    var socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      return retry();
    }
    socket.onopen = function () {
      delay = 250;
      socket.send(JSON.stringify({ command: "hello", protocols: [PROTOCOL] }));
    };
    socket.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message.command === "hello") {
        socket.send(JSON.stringify({ command: "info", plugins: {}, url: location.href }));
        if (!announced) {
          announced = true;
          console.log("[webkit] live reload connected");
        }
      } else if (message.command === "reload") {
        reload(message);
      } else if (message.command === "alert" && message.message) {
        console.warn("[webkit] " + message.message);
      }
    };
    // Quiet on purpose: the dev server restarting or stopping is normal, not an error.
    socket.onclose = retry;
  }

  function retry() {
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 5000);
  }

  connect();
})();
