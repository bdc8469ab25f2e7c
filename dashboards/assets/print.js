// The print view: a printed page holds every row of its grids. AG Grid draws only the rows in its scroll window
// (and one page of 50): the printed ranking held 13 of its 65 cities and cut its columns at the paper's edge. While
// the page is printed (Ctrl+P, the browser's print menu, window.print) each grid lays out for print (AG Grid's
// domLayout "print": every row and column, no scroll bars) without its pager; after printing each is as it was.
(function () {
    var saved = null;

    function gridApi(id) {
        try {
            return window.dash_ag_grid && window.dash_ag_grid.getApi ? window.dash_ag_grid.getApi(id) : null;
        } catch (e) {
            return null; // a grid not drawn yet
        }
    }

    function forPrint() {
        if (saved) {
            return;
        }
        saved = [];
        document.querySelectorAll(".ipc-grid[id]").forEach(function (el) {
            var api = gridApi(el.id);
            if (!api) {
                return;
            }
            saved.push({
                el: el,
                api: api,
                layout: api.getGridOption("domLayout"),
                pagination: api.getGridOption("pagination"),
                height: el.style.height,
            });
            api.setGridOption("pagination", false);
            api.setGridOption("domLayout", "print");
            el.style.height = "auto";
        });
    }

    function afterPrint() {
        if (!saved) {
            return;
        }
        saved.forEach(function (s) {
            s.api.setGridOption("domLayout", s.layout || "normal");
            s.api.setGridOption("pagination", s.pagination);
            s.el.style.height = s.height;
        });
        saved = null;
    }

    window.addEventListener("beforeprint", forPrint);
    window.addEventListener("afterprint", afterPrint);
    // the print media query too: a print preview started without the events (and the browser tests' print media)
    var media = window.matchMedia ? window.matchMedia("print") : null;
    if (media && media.addEventListener) {
        media.addEventListener("change", function (event) {
            if (event.matches) {
                forPrint();
            } else {
                afterPrint();
            }
        });
    }
})();
