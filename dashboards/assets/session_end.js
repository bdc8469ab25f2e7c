// When the session ends while a page is open (the idle timeout, a sign-out in another tab, the password changed
// elsewhere, the account disabled or moved to another province), the server refuses every callback with 401
// (dashboards/web.py, the gate). Dash's renderer only logs a refused callback: the page kept its old figures and
// its controls did nothing, and nobody told the official why. So a 401 from a Dash request sends the page to the
// sign-in form, in the page's language, which brings the official back to this page (its choices are in the URL).
(function () {
    var originalFetch = window.fetch;
    if (!originalFetch) {
        return;
    }
    var leaving = false;
    window.fetch = function (input) {
        return originalFetch.apply(this, arguments).then(function (response) {
            var url = typeof input === "string" ? input : (input && input.url) || "";
            var path = new URL(url, window.location.href).pathname;
            if (response.status === 401 && path.indexOf("/_dash-") === 0 && !leaving) {
                leaving = true;
                var params = new URLSearchParams();
                var lang = new URLSearchParams(window.location.search).get("lang");
                if (lang) {
                    params.set("lang", lang);
                }
                // a same-site path only (the sign-in form checks it again: security.safe_local_path)
                params.set("next", window.location.pathname.replace(/^[\/\\]+/, "/") + window.location.search);
                window.location.assign("/login?" + params.toString());
            }
            return response;
        });
    };
})();
