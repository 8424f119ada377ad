"""The service table skips recomputing its rows when a snapshot has the same shape."""

from __future__ import annotations

import dataclasses

import pytest

from lvstui.model import AddReal, RealKey, Snapshot
from lvstui.ui.app import LvstuiApp
from lvstui.ui.fake import FakeClient
from lvstui.ui.widgets import ServiceTable


async def test_same_shape_reuses_rows_and_a_new_server_recomputes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = FakeClient(3, 3)
    client.tick(2)
    app = LvstuiApp(client, auto_poll=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.poll_once()
        await pilot.pause()
        t = app.main.query_one(ServiceTable)
        calls: list[Snapshot] = []
        real_rows = t._rows

        def counting(snap: Snapshot):  # type: ignore[no-untyped-def]
            calls.append(snap)
            return real_rows(snap)

        monkeypatch.setattr(t, "_rows", counting)
        client.tick()
        await app.poll_once()
        await pilot.pause()
        assert calls == []  # same services, same servers: rows kept
        snap = app.snapshot
        assert snap is not None
        # values still follow the new snapshot
        sk = f"s|{snap.services[0].key}"
        assert str(t.get_cell(sk, "active")) == str(
            sum(r.active_conns for r in snap.services[0].real_servers)
        )
        # equal keys that are other objects (a decoded snapshot) count as the same shape
        copy = dataclasses.replace(
            snap,
            seq=snap.seq + 1,
            services=tuple(
                dataclasses.replace(sv, key=dataclasses.replace(sv.key)) for sv in snap.services
            ),
        )
        t.show(copy)
        assert calls == []
        await client.call(AddReal(client.services[1].key, RealKey("198.51.100.77", 80), 1))
        client.tick()
        await app.poll_once()
        await pilot.pause()
        assert len(calls) == 1
        assert t.row_count == 3 + 3 * 3 + 1
        # a filter always recomputes (what matches changes with the values)
        t.filter_text = "198.51.100.77"
        t.show(copy)
        t.show(copy)
        assert len(calls) == 3
