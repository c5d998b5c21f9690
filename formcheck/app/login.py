"""The page's door: on this computer, straight in; on the network, an access key first
(see ``formcheck.app.access``). Also which history this visitor's sessions go to."""

from __future__ import annotations

import os
import time

import streamlit as st

from formcheck.app.access import KEYS_ENV, Visitor, athlete_for, listens_on_network, load_keys
from formcheck.app.state import app_state
from formcheck.app.text import plain
from formcheck.errors import ConfigError

WRONG_KEY_DELAY_S = 1.0  # guessing keys one by one takes that long each


def visitor() -> Visitor | None:
    """Who this browser session is; None while they are not let in (the page shows why or the key form)."""
    if app_state.visitor is not None:
        return app_state.visitor
    keys_file = os.environ.get(KEYS_ENV)
    if not keys_file:
        if listens_on_network(st.get_option("server.address")):
            st.error("This formcheck server listens on the network without access keys, so it shows nothing. "
                     "Start it with `formcheck app` (this computer only) or `formcheck app --lan` (a team, "
                     "with access keys).")
            return None
        app_state.visitor = Visitor(None)
        return app_state.visitor
    try:
        keys = load_keys(keys_file)
    except ConfigError as exc:
        st.error(plain(exc))
        return None
    return _key_form(keys)


def _key_form(keys: dict[str, str]) -> Visitor | None:
    st.info("This formcheck server is shared by a team: enter your access key to see your own sessions.")
    with st.form("access_key"):
        key = st.text_input("Access key", type="password")
        entered = st.form_submit_button("Enter")
    if entered:
        athlete = athlete_for(key, keys)
        if athlete is not None:
            app_state.visitor = Visitor(athlete)
            st.rerun()
        time.sleep(WRONG_KEY_DELAY_S)
        st.error("That is not one of this server's access keys. Ask your coach for yours.")
    return None


def visitor_history():
    """This visitor's history: the athlete's own file on a team server, the default one locally."""
    from formcheck.outputs.history import History

    who = app_state.visitor
    return History.of_athlete(who.athlete if who else None)
