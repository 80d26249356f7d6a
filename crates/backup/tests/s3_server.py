"""A real S3 server for the tests: moto's server mode (PyPI: moto[server]),
on 127.0.0.1 at a port the system picks, with the buckets named as
arguments made. Prints the port once the socket listens and the buckets
exist, then serves until its standard input closes."""

import logging
import sys

import boto3
from moto.server import ThreadedMotoServer

# No line per request: nobody reads them, and a full pipe would stall it.
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server.get_host_and_port()[1]
s3 = boto3.client(
    "s3",
    endpoint_url=f"http://127.0.0.1:{port}",
    region_name="us-east-1",
    aws_access_key_id="test-key",
    aws_secret_access_key="test-secret",
)
for bucket in sys.argv[1:]:
    s3.create_bucket(Bucket=bucket)
print(port, flush=True)
sys.stdin.read()
server.stop()
