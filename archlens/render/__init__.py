"""Renderers: analysis -> console, graphviz, plotly charts, HTML/Markdown report.

Renderers never compute metrics; they only format what the analysis carries.
"""
