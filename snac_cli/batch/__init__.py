"""Folder and list runs: plan the jobs (`plan`), do each job group (`tasks`), run them all in this process,
worker processes or on Ray (`runner`, `ray_data`), resumable, with a manifest.

Library code: may import the codec and the layers below it, never the CLI.
"""
