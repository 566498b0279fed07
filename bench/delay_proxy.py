"""A TCP proxy on 127.0.0.1 that holds every chunk for a fixed delay in each direction, in order:
a stand-in for a database one network hop away, for `streamhooks-bench` runs that ask what a round
trip to the database costs (BENCHMARKS.md, "spread").

    python3 bench/delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_SECONDS
    # e.g. PostgreSQL on 25433 seen through 25440 with 0.5 ms each way:
    python3 bench/delay_proxy.py 25440 25433 0.0005

Only 127.0.0.1; runs until killed. Python's own CPU time is spent on the same machine, the same for
every binary a series compares.
"""

import asyncio
import sys
import time


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk sent `delay` seconds after it arrived."""
    chunks = asyncio.Queue()

    async def send():
        while True:
            due, data = await chunks.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            chunks.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    chunks.put_nowait((0, None))
    await sender


async def main(listen, target, delay):
    async def handle(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            pump(client_r, server_w, delay),
            pump(server_r, client_w, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
