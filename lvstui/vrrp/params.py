"""The state machine's view of a vrrp_instance: `fsm_params`, and every address it holds."""

from __future__ import annotations

from lvstui.config.schema import MAX_VIPS_PER_ADVERT, VipAddress, VrrpInstance, VrrpState
from lvstui.config.schema import AuthType as CfgAuth
from lvstui.errors import VrrpError
from lvstui.vrrp import fsm
from lvstui.vrrp.packet import AuthType

__all__ = ["all_vips", "fsm_params"]


def fsm_params(inst: VrrpInstance, primary_addr: str) -> fsm.FsmParams:
    """The state machine's view of a vrrp_instance (raises for what we cannot run)."""
    auth = AuthType.PASS if inst.auth_type == CfgAuth.PASS else AuthType.NONE
    if inst.auth_type == CfgAuth.AH:
        raise VrrpError(
            f"vrrp_instance {inst.name}: auth_type AH is not supported",
            hint="use PASS (sent in clear) or no authentication",
        )
    return fsm.FsmParams(
        vrid=inst.virtual_router_id,
        version=inst.version,
        advert_int=inst.advert_int,
        vips=tuple(v.address for v in inst.virtual_ipaddress[:MAX_VIPS_PER_ADVERT]),
        primary_addr=primary_addr,
        want_master=inst.state == VrrpState.MASTER,
        preempt=not inst.nopreempt,
        preempt_delay=inst.preempt_delay,
        auth_type=auth,
        auth_pass=inst.auth_pass.encode()[:8].ljust(8, b"\0") if auth else b"",
        garp_delay=inst.garp_master_delay,
        garp_refresh=inst.garp_master_refresh,
        skip_same_master=inst.skip_check_adv_addr,
    )


def all_vips(inst: VrrpInstance) -> tuple[VipAddress, ...]:
    return inst.virtual_ipaddress + inst.virtual_ipaddress_excluded
