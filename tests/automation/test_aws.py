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


def test_requests_reach_the_moto_server_in_process_as_through_its_socket(aws_env, monkeypatch):
    """The tests' clients hand their requests to the moto server's app in-process (tests/support/moto_stack.py,
    InProcess); processes the tests start send them through its socket. Either way moto must see the same request
    and the client read the same answer: for each of botocore's protocols the commands use (CloudWatch's CBOR, S3's
    and Route 53's REST-XML, RDS's and SNS's query, Backup's REST-JSON, DynamoDB's JSON), an object key that must
    be percent-encoded, a streamed body and an error."""
    import io
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from tests.support.moto_stack import DR_REGION, REGION, client, through_the_socket

    client("dynamodb").create_table(
        TableName="transport", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    seen, caller = [], threading.current_thread()
    serve = DomainDispatcherApplication.__call__

    def recording(app, environ, start_response):
        length = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read(int(length or 0))  # botocore sends every body with its length
        environ["wsgi.input"] = io.BytesIO(body)
        seen.append((request_of(environ), body, threading.current_thread() is caller))
        return serve(app, environ, start_response)

    monkeypatch.setattr(DomainDispatcherApplication, "__call__", recording)
    clients = {}

    def both_ways(service, call):
        """The answer read both ways (each by a command's client of its own: a session of its own resolves the
        credentials again, which botocore's user agent tells), after checking that moto saw one request each way, the same, and served the
        in-process one on the caller's thread."""
        if service not in clients:
            clients[service] = (Aws(REGION, DR_REGION).client(service),
                                through_the_socket(Aws(REGION, DR_REGION).client(service)))
        answers = [answer_of(lambda client=client: call(client)) for client in clients[service]]
        [(*in_process, on_callers_thread), (*socket, on_a_server_thread)] = seen
        del seen[:]
        assert on_callers_thread and not on_a_server_thread
        assert in_process == socket
        assert answers[0] == answers[1]
        return answers[0]

    key = "reports/capacity 2026-11 ü+%.json"
    assert both_ways("s3", lambda s3: s3.create_bucket(Bucket="transport"))["Location"] == "/transport"
    both_ways("s3", lambda s3: s3.put_object(Bucket="transport", Key=key, Body=b"\x00\xff" * 50_000))
    assert both_ways("s3", lambda s3: s3.get_object(Bucket="transport", Key=key)["Body"].read()) == b"\x00\xff" * 50_000
    assert [o["Key"] for o in both_ways("s3", lambda s3: s3.list_objects_v2(Bucket="transport", Prefix="reports/"))[
        "Contents"]] == [key]
    assert both_ways("s3", lambda s3: s3.head_object(Bucket="transport", Key="missing")) == ("404", "Not Found")
    both_ways("cloudwatch", lambda cloudwatch: cloudwatch.put_metric_data(
        Namespace="Transport", MetricData=[{"MetricName": "Bytes", "Value": 1.5, "Unit": "Bytes"}]))
    assert both_ways("cloudwatch", lambda cloudwatch: cloudwatch.list_metrics(Namespace="Transport"))["Metrics"]
    assert both_ways("rds", lambda rds: rds.describe_db_instances(DBInstanceIdentifier="missing"))[0] == \
        "DBInstanceNotFound"
    assert both_ways("sns", lambda sns: sns.create_topic(Name="transport"))["TopicArn"].endswith(":transport")
    assert both_ways("backup", lambda backup: backup.list_backup_vaults())["BackupVaultList"] == []
    assert both_ways("route53", lambda route53: route53.list_hosted_zones())["HostedZones"] == []
    both_ways("dynamodb", lambda dynamodb: dynamodb.put_item(TableName="transport", Item={"id": {"S": "ü"}}))
    assert both_ways("dynamodb", lambda dynamodb: dynamodb.get_item(TableName="transport", Key={"id": {"S": "ü"}})) \
        == {"Item": {"id": {"S": "ü"}}}


# What a request's environ holds besides what the client sent: the peer's address and the connection, which differ
# between the two ways; and the headers that differ between any two requests (signature, time, invocation id).
NOT_THE_REQUEST = {"REMOTE_ADDR", "REMOTE_PORT", "werkzeug.socket", "wsgi.input", "wsgi.errors", "HTTP_AUTHORIZATION",
                   "HTTP_X_AMZ_DATE", "HTTP_AMZ_SDK_INVOCATION_ID"}


def request_of(environ: dict) -> dict:
    request = {name: value for name, value in environ.items() if name not in NOT_THE_REQUEST}
    agent = request["HTTP_USER_AGENT"].split(" ")  # the features botocore used ("m/A,B"): a set, in no fixed order
    request["HTTP_USER_AGENT"] = [",".join(sorted(part.split(","))) if part.startswith("m/") else part for part in agent]
    return request


def answer_of(call):
    """What a caller reads of an answer: the parsed fields (no request id or date), or the error's code and message."""
    from botocore.exceptions import ClientError

    try:
        answer = call()
    except ClientError as error:
        return error.response["Error"].get("Code"), error.response["Error"].get("Message")
    if isinstance(answer, dict):
        return {name: value for name, value in answer.items() if name != "ResponseMetadata"}
    return answer
