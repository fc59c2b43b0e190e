"""A real OTLP/HTTP trace receiver for the tests: decodes each
ExportTraceServiceRequest (protobuf, optionally gzip) with the
opentelemetry-proto package and appends one JSON line per span to the file
named by argv[1]. Prints its port, then serves on 127.0.0.1 until killed."""
import gzip
import http.server
import json
import sys

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

OUT = open(sys.argv[1], "a", encoding="utf-8")


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        req = trace_service_pb2.ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            resource = {kv.key: value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    OUT.write(json.dumps({
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "service": resource.get("service.name"),
                        "name": sp.name,
                        "trace_id": sp.trace_id.hex(),
                        "span_id": sp.span_id.hex(),
                        "parent": sp.parent_span_id.hex(),
                        "attributes": {kv.key: value(kv.value) for kv in sp.attributes},
                        "events": [e.name for e in sp.events],
                    }) + "\n")
        OUT.flush()
        resp = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(resp)))
        self.end_headers()
        self.wfile.write(resp)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
