"""A Gradio app as Spaces-style apps are written: `python app.py` calls launch()."""

import gradio as gr


def shout(text: str) -> str:
    return text.upper() + "!"


demo = gr.Interface(fn=shout, inputs="text", outputs="text", title="Shout")

if __name__ == "__main__":
    demo.launch()
