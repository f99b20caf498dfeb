# slow_download.py URL BYTES_PER_SECOND: fetch URL over HTTP at about that rate, so that a fault finds the
# transfer in the middle; print bytes=N sha256=HEX longest_gap_ms=G (the longest wait for the next bytes).
import hashlib, http.client, sys, time, urllib.parse
url, rate = urllib.parse.urlparse(sys.argv[1]), float(sys.argv[2])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
conn.request("GET", url.path)
response = conn.getresponse()
if response.status != 200:
    sys.exit("status %d" % response.status)
digest, total, longest = hashlib.sha256(), 0, 0.0
start = last = time.time()
while True:
    piece = response.read(32768)
    now = time.time()
    if not piece:
        break
    longest = max(longest, now - last)
    digest.update(piece)
    total += len(piece)
    last = time.time()
    ahead = total / rate - (last - start)
    if ahead > 0:
        time.sleep(ahead)
        last = time.time()
print("bytes=%d sha256=%s longest_gap_ms=%.1f" % (total, digest.hexdigest(), 1000 * longest))
