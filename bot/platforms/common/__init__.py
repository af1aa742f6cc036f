"""The platform-neutral flow every chat platform shares; a platform adds only SDK calls.

What is here: StreamedTurns (streamed_turns.py) runs a turn into a replier, settles its
buttons and keeps each channel's latest reply (latest.py); PressRouter (press_routing.py)
turns a press of a reply's button into its command and answer; button_presses.py says what
the buttons stand for; heading.py the speaker's bold name; command_syntax.py reads typed
commands; key_shapes.py spots pasted API keys; background.py keeps a typing signal alive.

To add a platform, write (see discord/ and telegram/ for two complete ones):

1. A replier (streamed_turns.SettlingReplier): `limits`, `send`, `edit`, `delete` and
   `typing` in the SDK's calls, raising DeliveryError (with retry_after on a rate limit);
   and `settle(finished=)`, which swaps Stop for the after-reply buttons, its own writes
   going through reply.pacing.write_paced.
2. The buttons as the SDK renders them, carrying button_presses.button_data(key).
3. A press (press_routing.Pressed): where and by whom, and how to acknowledge, tell the
   presser, show a swipe's version in the pressed message, and answer.
4. The adapter: SDK events read into Incoming and CommandCall, handed to
   StreamedTurns.reply / .rewrite (commands whose spec streams) or
   Conversations.run_command, and presses to PressRouter.route; plus the platform's
   PlatformLimits and, if it counts writes per group, a budget scope for Pacing.
"""
