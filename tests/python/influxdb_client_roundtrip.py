"""Writes points with the `influxdb` Python client (Debian: python3-influxdb) and reads them back.

usage: influxdb_client_roundtrip.py PORT TOKEN DB [ssl]
With `ssl`: over HTTPS, the certificate not verified (ssl=True, verify_ssl=False).
Prints one JSON line: {"written": bool, "points": [...], "databases": [...]}.
"""
import json
import sys

sys.path.append("/usr/lib/python3/dist-packages")  # Debian's package, also under another python3
try:
    from influxdb import InfluxDBClient
except ImportError as e:  # noqa
    sys.exit("python module `influxdb` missing: install the Debian package python3-influxdb (%s)" % e)

port, token, db = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ssl = sys.argv[4:] == ["ssl"]
if ssl:
    import urllib3
    urllib3.disable_warnings()
client = InfluxDBClient(host="127.0.0.1", port=port, username="someone", password=token, database=db, timeout=30,
                        ssl=ssl, verify_ssl=False)
points = [
    {"measurement": "cpu", "tags": {"host": "a"}, "time": 1000000000, "fields": {"value": 1.5, "n": 3}},
    {"measurement": "cpu", "tags": {"host": "b"}, "time": 2000000000, "fields": {"value": 2.5, "n": 4}},
]
written = client.write_points(points, time_precision="n")
client.write_points([{"measurement": "cpu", "tags": {"host": "c"}, "time": 3, "fields": {"value": 3.5, "n": 5}}],
                    time_precision="s")
rs = client.query("SELECT * FROM cpu", epoch="ns")
out = {"written": written, "points": list(rs.get_points())}
print(json.dumps(out, sort_keys=True))
