"""The IP Strong-City Monitor dashboard (Dash, multi-page, bilingual) over the published snapshot."""
