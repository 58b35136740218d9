"""The facts the stack (infra/), the policy pack (policies/) and the ops jobs (automation/) share.

Dependency-light on purpose (pydantic and the standard library; no pulumi, no boto3), so every part, the ops
image's in-cluster jobs included, can import it cheaply: the operations guide's numbers (`guide`), the custom
metric names (`metrics`) and the stack outputs contract (`outputs`). The policy pack is published on its own and
keeps a copy of what it needs (policies/guide.py); tests/policies/test_pack.py holds the copy to these values.
"""
