"""The ops commands' AWS clients (automation/aws.py)."""

from __future__ import annotations

from botocore.loaders import JSONFileLoader

from automation.aws import Aws, _data_loader


def test_a_second_set_of_clients_in_the_process_reads_no_model_again_and_keeps_its_own_credentials(monkeypatch):
    """`release promote` holds one Aws per stack, a test process one per command: the service models are read once
    per process, while credentials stay each session's own."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    first = Aws("us-east-1", "us-west-2")
    first.client("rds")
    first.dr("sqs")
    search_path = list(_data_loader().search_paths)

    reads = []
    original = JSONFileLoader.load_file
    monkeypatch.setattr(JSONFileLoader, "load_file", lambda loader, path: reads.append(path) or original(loader, path))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")
    second = Aws("us-east-1", "us-west-2")
    rds, sqs = second.client("rds"), second.dr("sqs")

    assert reads == []
    assert _data_loader().search_paths == search_path  # boto3 adds its data path to the shared loader only once
    assert rds.meta.region_name == "us-east-1" and sqs.meta.region_name == "us-west-2"
    assert first.session.get_credentials().access_key == "first"
    assert second.session.get_credentials().access_key == "second"
