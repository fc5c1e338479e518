"""Fault-injection suite: each test reproduces a failure for real and checks what survives.

The LLM cases talk to :class:`tests.plugins.llm_server.FakeOpenAIServer`, an
OpenAI-compatible HTTP server on 127.0.0.1 in a thread; every test bounds the
number of requests it may take (``assert len(server.requests) <= N``) and the
time (client timeouts of a few seconds, ``max_retries`` of 1 or 2).
"""
