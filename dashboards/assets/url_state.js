// Page state in the URL: every page writes its choices (year, city, cities, filters) into the query string
// with history.replaceState, so the address bar can be bookmarked or sent at any moment. The language links
// take the query string as it is when clicked, so switching language keeps every choice.
// The page's path as a same-site path: an address such as https://host//evil.example/x opens the not-found page
// with location.pathname "//evil.example/x", which as a link (or a replaceState target) is another site. Leading
// slashes and backslashes collapse to one slash, as Dash's router strips them (dashboards.app.shell_content makes
// the server-built links safe the same way).
function ipcLocalPath() {
    return window.location.pathname.replace(/^[\/\\]+/, "/");
}

window.dash_clientside = Object.assign({}, window.dash_clientside, {
    ipc: {
        syncUrl: function () {
            var args = Array.prototype.slice.call(arguments);
            var keys = args.pop();
            var params = new URLSearchParams(window.location.search);
            keys.forEach(function (key, i) {
                var v = args[i];
                if (v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) {
                    params.delete(key);
                } else {
                    params.set(key, Array.isArray(v) ? v.join(",") : String(v));
                }
            });
            var query = params.toString();
            var url = ipcLocalPath() + (query ? "?" + query : "");
            if (url !== window.location.pathname + window.location.search) {
                window.history.replaceState(window.history.state, "", url);
            }
            return query;
        }
    }
});

document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.ipc-lang-link") : null;
    if (!link) { return; }
    var params = new URLSearchParams(window.location.search);
    params.set("lang", link.getAttribute("data-lang"));
    link.setAttribute("href", ipcLocalPath() + "?" + params.toString());
}, true);
