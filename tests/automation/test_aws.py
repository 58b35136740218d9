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
    and the client read the same answer: for each of botocore's protocols the commands and the seeds use (CloudWatch's
    CBOR, S3's and Route 53's REST-XML, RDS's and SNS's query, EC2's, Backup's REST-JSON, DynamoDB's JSON), an object
    key that must be percent-encoded, a header that is not ASCII, a streamed body, a HEAD and errors. Writes run
    twice, once each way; moto answers both alike."""
    import io
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from tests.support.moto_stack import DR_REGION, REGION, client, through_the_socket

    client("dynamodb").create_table(
        TableName="transport", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    seen, caller, failing = [], threading.current_thread(), []
    serve = DomainDispatcherApplication.__call__

    def recording(app, environ, start_response):
        length = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read(int(length or 0))  # botocore sends every body with its length
        environ["wsgi.input"] = io.BytesIO(body)
        seen.append((request_of(environ), body, threading.current_thread() is caller))
        if failing:
            raise RuntimeError("moto failed")
        return serve(app, environ, start_response)

    monkeypatch.setattr(DomainDispatcherApplication, "__call__", recording)
    clients = {}

    def both_ways(service, call):
        """`call`'s answer, after checking that both ways gave the same, that moto saw one request each way, the
        same, and that it served the in-process one on the caller's thread. Each way has a command's client of its
        own: a session of its own resolves the credentials again, which botocore's user agent tells."""
        if service not in clients:
            clients[service] = (Aws(REGION, DR_REGION).client(service),
                                through_the_socket(Aws(REGION, DR_REGION).client(service)))
        answers = [answer_of(lambda client=client: call(client)) for client in clients[service]]
        [(*in_process, on_callers_thread), (*socket, on_a_server_thread)] = seen
        del seen[:]
        assert on_callers_thread and not on_a_server_thread
        assert in_process == socket
        assert answers[0] == answers[1]
        return answers[0][2] if isinstance(answers[0], tuple) else answers[0]

    key = "reports/capacity 2026-11 ü+%.json"
    assert both_ways("s3", lambda s3: s3.create_bucket(Bucket="transport"))["Location"] == "/transport"
    both_ways("s3", lambda s3: s3.put_object(Bucket="transport", Key=key, Body=b"\x00\xff" * 50_000,
                                             ContentDisposition='attachment; filename="Kapazität.json"'))
    assert both_ways("s3", lambda s3: s3.head_object(Bucket="transport", Key=key))["ContentLength"] == 100_000
    assert both_ways("s3", lambda s3: s3.get_object(Bucket="transport", Key=key)["Body"].read()) == b"\x00\xff" * 50_000
    assert [o["Key"] for o in both_ways("s3", lambda s3: s3.list_objects_v2(Bucket="transport", Prefix="reports/"))[
        "Contents"]] == [key]
    assert both_ways("s3", lambda s3: s3.head_object(Bucket="transport", Key="missing"))["Error"]["Code"] == "404"
    both_ways("cloudwatch", lambda cloudwatch: cloudwatch.put_metric_data(
        Namespace="Transport", MetricData=[{"MetricName": "Bytes", "Value": 1.5, "Unit": "Bytes"}]))
    assert both_ways("cloudwatch", lambda cloudwatch: cloudwatch.list_metrics(Namespace="Transport"))["Metrics"]
    assert both_ways("rds", lambda rds: rds.describe_db_instances(DBInstanceIdentifier="missing"))["Error"][
        "Code"] == "DBInstanceNotFound"
    assert both_ways("sns", lambda sns: sns.create_topic(Name="transport"))["TopicArn"].endswith(":transport")
    assert both_ways("backup", lambda backup: backup.list_backup_vaults())["BackupVaultList"] == []
    assert both_ways("route53", lambda route53: route53.list_hosted_zones())["HostedZones"] == []
    assert both_ways("ec2", lambda ec2: ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["none"]}]))[
        "Vpcs"] == []
    failing.append("moto's app raises")  # the server answers 500, which botocore retries five times (automation/aws.py)
    answers = [answer_of(lambda client=client: client.list_backup_vaults()) for client in clients["backup"]]
    assert answers[0] == answers[1] and answers[0][0] == 500
    assert [on_callers_thread for *_, on_callers_thread in seen] == [True] * 6 + [False] * 6
    del seen[:], failing[:]
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
    request["HTTP_USER_AGENT"] = [",".join(sorted(part.split(","))) if part.startswith("m/") else part
                                  for part in agent]
    return request


# Headers of an answer that differ between any two answers: the time and the request's ids.
NOT_THE_ANSWER = {"date", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2"}


def answer_of(call):
    """What a caller reads of an answer: its HTTP status, its headers (of the time and the request's ids, only that
    they are there) and its parsed fields; for an error, the same of the error's response."""
    from botocore.exceptions import ClientError

    try:
        answer = call()
    except ClientError as error:
        answer = error.response
    if not isinstance(answer, dict):
        return answer
    metadata = answer.get("ResponseMetadata", {})
    headers = {name: "(varies)" if name in NOT_THE_ANSWER else value
               for name, value in metadata.get("HTTPHeaders", {}).items()}
    fields = {name: value for name, value in answer.items() if name != "ResponseMetadata"}
    return metadata.get("HTTPStatusCode"), headers, fields
