"""How a fake push service is told to answer per device token, and what reached a phone."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ScriptedAnswers:
    # Device token -> a key of the service's ANSWERS (anything unlisted: "ok").
    answers: dict[str, str] = field(default_factory=dict, kw_only=True)
    # Device token -> a key of ANSWERS for its first send only; "ok" after that.
    first_answers: dict[str, str] = field(default_factory=dict, kw_only=True)
    # The prompt id of every push answered "ok": what reached a phone.
    delivered: list[str] = field(default_factory=list, kw_only=True)

    def answer_for(self, device_token: str, prompt_id: object) -> str:
        """The answer this send gets; an "ok" one counts the prompt as delivered."""
        answer = self.first_answers.pop(device_token, None) or self.answers.get(device_token, "ok")
        if answer == "ok":
            self.delivered.append(str(prompt_id))
        return answer
