"""Shared test helpers, imported as `tests.support.<module>` (pytest runs with --import-mode=importlib and
pythonpath=["."]; no sys.path edits, and no test module imports another test module's fakes).

    mock_slack     a local Slack Web API (stdlib HTTP server) with state and failure injection;
                   slack_methods.py holds the methods it answers, block_rules.py Slack's Block Kit limits
    blockkit       serialise builders through `.to_dict()` and check them against block_rules
    signing        signed Slack requests (events, interactivity, commands) as Slack sends them
    harness        the real app from `create_app` driven by signed requests, plus `post_items`
    factories      conversations and a KB through the real importer
    world          a month of known loop history for the insight tests
    fake_llm       a scripted model (`enqueue` answers per task, recorded calls)
    openai_api     a scripted OpenAI API for the real OpenAILLM (httpx2.MockTransport)
    reliability    row counts, a second bot instance, event redeliveries, calls released at once
    faults         database and network outages (a cuttable TCP proxy, a vanishing SQLite file)
    connectors     the connector tests' secret, customer turn and fake KB
    http_client    GET/POST against a running server
"""
