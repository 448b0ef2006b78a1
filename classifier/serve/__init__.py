"""HTTP serving of bundles: the TF Serving REST shape, /predict, /generate, health, metrics and a page.

    classifier serve --model saved_models/default --port 8000

Only the `serve` command imports this package's modules (FastAPI, uvicorn and prometheus-client
come with the optional `serve` extra), so `import classifier` stays free of them. The layers,
each importing only those before it: settings (what the command line fixed), scorer (one
thread per model that runs recommendations()), registry (the models, loaded and warmed up in the
background), metrics, middleware (API key, body limit, request metrics), schemas (request
and response bodies), the routers (tfserving, api, ops), app (assembles them), server (uvicorn).
"""
