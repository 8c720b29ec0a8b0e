"""The layer graph as a graphviz drawing, one job per module (the public entry points are in
:mod:`archlens.render.graphviz`):

- ``style``      colours and the fill scale (MAC share bins, stage strips, outlines);
- ``structure``  the module tree of the layers and the runs of identical blocks to fold;
- ``units``      the drawn nodes: which layers each stands for, fused followers, folds,
                 edges between them, the findings they carry;
- ``columns``    packing the top-level modules into side-by-side columns;
- ``labels``     the text of nodes, clusters and the legend (escaped for dot);
- ``emit``       the dot source from all of the above;
- ``dot``        running graphviz's ``dot`` and reading the SVG it writes.
"""
