"""Background jobs: the second way into the use cases, beside HTTP.

Services that run once across processes under a lease (`runtime`, wired in `services_setup`: the Last.fm
`tracker`, the `discogs` sync, the `scheduler` and its `tasks`), import jobs (`imports`, `import_runner`) and
the collection enrichment run (`enrichment_jobs`). The use cases they call stay in `aime.services`.
"""
