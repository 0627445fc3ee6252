// placeholder removed when the harness lands
