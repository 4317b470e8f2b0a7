"""``loopsy mcp``: Loopsy as MCP tools for AI coding agents, over the Loopsy client.

The only package that imports the MCP SDK. Tools are short functions over
:class:`loopsy.client.LoopsyClient`: on this machine's daemon, or on a paired peer named by
``peer`` (name or id). Credentials never pass through tool arguments or results: the
server asks the local daemon (unix socket) for a peer's endpoint and keeps the client.
"""
