// MathJax settings for pymdownx.arithmatex in generic mode, which wraps every formula in an element of
// class "arithmatex" with \( \) or \[ \] delimiters: typeset those elements and nothing else.
// The build it configures, mathjax/tex-svg.js beside this file, is MathJax 3.2.2 (npm package `mathjax`,
// es5/tex-svg.js, Apache-2.0: mathjax/LICENSE). It draws TeX as SVG with the glyphs inside the script,
// so the site's maths renders without a network connection.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
  svg: {fontCache: "global"},
};
